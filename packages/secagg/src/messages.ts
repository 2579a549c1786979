/**
 * The messages of one SecAgg+ round (Bonawitz et al. 2017, Fig. 4; Bell et al. 2020, Fig. 3), as plain
 * objects with binary fields. packages/protocol gives each a wire schema; the state machines here check
 * every field again at their boundary.
 *
 * Stages: AdvertiseKeys → ShareKeys → MaskedInputCollection → ConsistencyCheck → Unmasking.
 */
import type { IdentityProof } from './identity.ts';

export type SecAggStage = 'advertise-keys' | 'share-keys' | 'masked-input' | 'consistency-check' | 'unmasking';
// The stage order and each stage's message come from the stage table (stages.ts imports only types from here).

/** The public parameters of a round, known to the server and every selected client. */
export interface SecAggConfig {
  /** Unique per round (and per attempt of a re-run round): bound into every key, ciphertext and signature. */
  readonly roundId: string;
  /** The selected clients' ids. */
  readonly clients: readonly number[];
  /** Inputs live in Z_{2^bits}, 1 <= bits <= 32. */
  readonly bits: number;
  /** Vector length. */
  readonly dim: number;
  /** Degree k of the neighbour graph (k >= n−1: complete graph). */
  readonly neighbours: number;
  /** Shamir threshold t, k/2 < t <= k. */
  readonly threshold: number;
  /** H(r_S): the coordinator's commitment to its share of the graph seed (graphSeed.ts), opened after AdvertiseKeys. */
  readonly graphCommitment: Uint8Array;
}

// Client → server

/** Stage 0: c_u^PK (encryption), s_u^PK (masking) and the round's Ed25519 key for the consistency check. */
export interface AdvertiseKeysMsg {
  readonly type: 'advertise-keys';
  readonly roundId: string;
  readonly from: number;
  readonly encryptionKey: Uint8Array;
  readonly maskingKey: Uint8Array;
  readonly signingKey: Uint8Array;
  /** r_u: 32 fresh random bytes mixed into the graph seed (graphSeed.ts). */
  readonly graphContribution: Uint8Array;
  /**
   * PKI mode (identity.ts): the authority's certificate on the client's long-term identity key and that
   * key's signature over (round, from, the three keys, graphContribution).
   */
  readonly identity?: IdentityProof;
}

/** Stage 1: AES-GCM ciphertexts of (u, v, share of b_u, share of s_u^SK), one per neighbour v. */
export interface ShareKeysMsg {
  readonly type: 'share-keys';
  readonly roundId: string;
  readonly from: number;
  /** SHA-256(b_u): lets the server check the self-mask seed it reconstructs. Reveals nothing of b_u. */
  readonly selfMaskCommitment: Uint8Array;
  readonly shares: readonly { readonly to: number; readonly ciphertext: Uint8Array }[];
}

/** Stage 2: y_u = x_u + PRG(b_u) + Σ_v ±PRG(s_{u,v}) mod 2^B. */
export interface MaskedInputMsg {
  readonly type: 'masked-input';
  readonly roundId: string;
  readonly from: number;
  /** The round's B: every word of `masked` is below 2^bits, and the wire packs it at B bits a word. */
  readonly bits: number;
  readonly masked: Uint32Array;
  /**
   * The neighbours whose share box to this client failed to open (authentication or parse), ascending; absent
   * when all opened. This client holds no shares of theirs, so the server counts it out of their holders.
   */
  readonly unopenedShareBoxes?: readonly number[];
}

/** Stage 3: the client's signature on the survivor set U3 it was told. */
export interface ConsistencySignatureMsg {
  readonly type: 'consistency-signature';
  readonly roundId: string;
  readonly from: number;
  readonly signature: Uint8Array;
}

/** Stage 4: shares of b_v for surviving neighbours and of s_v^SK for dropped ones — never both for one v. */
export interface UnmaskSharesMsg {
  readonly type: 'unmask-shares';
  readonly roundId: string;
  readonly from: number;
  readonly selfMaskShares: readonly { readonly of: number; readonly share: Uint8Array }[];
  readonly maskKeyShares: readonly { readonly of: number; readonly share: Uint8Array }[];
}

export type SecAggClientMessage = AdvertiseKeysMsg | ShareKeysMsg | MaskedInputMsg | ConsistencySignatureMsg | UnmaskSharesMsg;

// Server → client

export interface AdvertisedKeys {
  readonly id: number;
  readonly encryptionKey: Uint8Array;
  readonly maskingKey: Uint8Array;
  readonly signingKey: Uint8Array;
  /** PKI mode: the advertiser's identity proof, forwarded unchanged so the neighbour can verify it. */
  readonly identity?: IdentityProof;
}

/**
 * After stage 0: the opening of the graph seed — r_S and every advertiser's contribution (U1, ascending) —
 * and the keys of the client's neighbours in the graph over U1 that this opening gives.
 */
export interface NeighbourKeysMsg {
  readonly type: 'neighbour-keys';
  readonly roundId: string;
  readonly to: number;
  readonly graphValue: Uint8Array;
  readonly advertisers: readonly { readonly id: number; readonly contribution: Uint8Array }[];
  readonly keys: readonly AdvertisedKeys[];
}

/** After stage 1: the ciphertexts addressed to the client from neighbours that shared (U2 ∩ N(u)). */
export interface SharesForYouMsg {
  readonly type: 'shares-for-you';
  readonly roundId: string;
  readonly to: number;
  readonly shares: readonly { readonly from: number; readonly ciphertext: Uint8Array }[];
}

/** After stage 2: U3, the clients whose masked input the server accepted. */
export interface SurvivorsMsg {
  readonly type: 'survivors';
  readonly roundId: string;
  readonly to: number;
  readonly survivors: readonly number[];
}

/** After stage 3: the neighbours' signatures on U3, and which shares to reveal. */
export interface UnmaskRequestMsg {
  readonly type: 'unmask-request';
  readonly roundId: string;
  readonly to: number;
  readonly signatures: readonly { readonly id: number; readonly signature: Uint8Array }[];
  /** Neighbours in U3: reveal the share of their self-mask seed b_v. */
  readonly revealSelfMaskOf: readonly number[];
  /** Neighbours in U2 \ U3: reveal the share of their mask key s_v^SK. */
  readonly revealMaskKeyOf: readonly number[];
}

export type SecAggServerMessage = NeighbourKeysMsg | SharesForYouMsg | SurvivorsMsg | UnmaskRequestMsg;
