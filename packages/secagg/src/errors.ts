/**
 * Every failure in SecAgg is a SecAggError with a code, so the coordinator can log it, drop the offending
 * message and keep the round going — or abort the round when recovery is impossible.
 */
export type SecAggErrorCode =
  /** Structurally invalid message or parameter. */
  | 'bad-message'
  /** A message for another round. */
  | 'wrong-round'
  /** A message that does not belong to the current stage. */
  | 'wrong-stage'
  /** A sender that is not (or no longer) part of this stage. */
  | 'unknown-client'
  /** A second message from the same sender in a stage (the first is kept). */
  | 'duplicate'
  /** A request the client has already answered. */
  | 'replay'
  /** A vector of the wrong length. */
  | 'bad-length'
  /** A value outside [0, 2^B). */
  | 'out-of-range'
  /** AES-GCM authentication of a share ciphertext failed. */
  | 'auth-failed'
  /** A public key of the wrong size or of small order. */
  | 'malformed-key'
  /** A signature that does not verify. */
  | 'bad-signature'
  /** PKI mode: a certificate that is malformed, expired or not signed by the pinned authority, or a missing one. */
  | 'bad-certificate'
  /** The server asked for something the protocol forbids; an honest client aborts. */
  | 'protocol-violation'
  /** Fewer than t live neighbours: the client's secrets could not be recovered, so it aborts. */
  | 'too-few-neighbours'
  /** The server cannot reconstruct a needed secret: the round must abort. */
  | 'unrecoverable'
  /** Invalid protocol parameters (k, t, bits, …). */
  | 'bad-parameters'
  /** The state machine already aborted or finished. */
  | 'aborted';

/**
 * One party accused of misbehaving, with a human-readable reason, and the independent parties whose messages
 * the accusation rests on: the neighbours that reported its share box unopenable, or the dealers of the
 * secrets its revealed shares were wrong for (a dealer can seal a wrong share in a well-formed box, so one
 * dealer alone cannot tell a lying holder from a lying dealer). The owner weighs the accusation by how many
 * sources it has against the number of colluders the parameters allow for.
 */
export interface Misbehaviour {
  readonly id: number;
  readonly reason: string;
  readonly evidence: readonly number[];
}

export class SecAggError extends Error {
  override readonly name = 'SecAggError';
  constructor(
    readonly code: SecAggErrorCode,
    message: string,
    /** The client the error is about, when there is one. */
    readonly clientId?: number,
    /** Parties proven (or, for share boxes, reported decisively) to have caused this error. */
    readonly misbehaving?: readonly Misbehaviour[],
  ) {
    super(message);
  }
}
