/**
 * The neighbour graph's seed is not the coordinator's free choice (a coordinator that picks the graph can
 * surround a client with its colluders). Commit, contribute, open:
 * 1. the coordinator draws a 32-byte value r_S and puts only its commitment H(r_S) in the round's task;
 * 2. every client sends a fresh 32-byte contribution r_u with its keys (AdvertiseKeys);
 * 3. the coordinator opens r_S with the list U1 of advertisers and their contributions, and every client
 *    recomputes seed = H(r_S ‖ (u, r_u) for u ∈ U1 ascending), checks the commitment, checks its own r_u is in
 *    it, and builds the graph over U1 from that seed itself.
 * r_S is fixed before any contribution is seen, and an honest client's r_u is uniform, so every graph the
 * coordinator can present is uniformly random; what it keeps is the choice of U1 (declaring advertisers
 * dropped) and its colluders' contributions, each of which re-draws the whole graph (docs/PRIVACY.md bounds
 * what such re-draws buy). The seed also goes into every consistency signature, so honest neighbours that
 * were shown different lists never reveal shares for each other.
 */
import { SecAggError } from './errors.ts';
import { concatBytes, sha256, utf8 } from './symmetric.ts';

const V = 'hushfl/secagg/v1';

export interface GraphContribution {
  readonly id: number;
  readonly contribution: Uint8Array;
}

function check32(b: unknown, what: string, clientId?: number): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array) || b.length !== 32) throw new SecAggError('bad-message', `${what} must be 32 bytes`, clientId);
}

/** H(r_S), bound to the round: what the task carries. */
export function graphCommitment(roundId: string, value: Uint8Array): Uint8Array {
  check32(value, 'the graph value');
  return sha256(concatBytes([utf8(`${V}/graph-commitment|round=${roundId}|`), value]));
}

/**
 * The graph seed from the opened value and the advertisers' contributions. `advertisers` must be strictly
 * ascending by id (one canonical encoding, so two parties with the same list get the same seed).
 */
export function graphSeedOf(roundId: string, value: Uint8Array, advertisers: readonly GraphContribution[]): Uint8Array {
  check32(value, 'the graph value');
  const parts: Uint8Array[] = [utf8(`${V}/graph-seed|round=${roundId}|n=${advertisers.length}|`), value];
  let last = 0;
  for (const a of advertisers) {
    if (!Number.isInteger(a.id) || a.id <= last || a.id > 0xffffffff)
      throw new SecAggError('bad-message', 'the advertiser list must be strictly ascending ids');
    check32(a.contribution, `client ${a.id}'s graph contribution`, a.id);
    last = a.id;
    const id = new Uint8Array(4);
    new DataView(id.buffer).setUint32(0, a.id);
    parts.push(id, a.contribution);
  }
  return sha256(concatBytes(parts));
}

/** A fresh contribution r_u (or value r_S) from the platform's CSPRNG. */
export function freshGraphRandomness(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(32));
}

/** Constant-time equality of two byte strings. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
