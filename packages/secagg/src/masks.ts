/**
 * The masks of Bonawitz et al. 2017 (§4, Fig. 4 round 2): the self mask PRG(b_u) and the pairwise masks
 * p_{u,v} = Δ_{u,v}·PRG(s_{u,v}) with Δ_{u,v} = +1 when u < v and −1 when u > v, so p_{u,v} + p_{v,u} = 0.
 * s_{u,v} = HKDF(X25519(s_u^SK, s_v^PK)) is the full 32-byte seed of the pair.
 */
import { maskSeedInfo } from './context.ts';
import type { CryptoSuite } from './suite.ts';
import { expandWords, expandWordsAt, hkdfSha256 } from './symmetric.ts';
import { addInPlace, subInPlace } from './vector.ts';

export async function pairwiseSeed(
  suite: CryptoSuite,
  roundId: string,
  self: number,
  maskingPrivate: Uint8Array,
  other: number,
  otherMaskingPublic: Uint8Array,
): Promise<Uint8Array> {
  const shared = await suite.x25519Shared(maskingPrivate, otherMaskingPublic);
  return hkdfSha256(shared, maskSeedInfo(roundId, self, other), 32);
}

/** acc ← acc + p_{self,other} mod 2^B. */
export async function applyPairwiseMask(acc: Uint32Array, seed: Uint8Array, self: number, other: number, bits: number): Promise<void> {
  await applyMask(acc, seed, self < other ? 1 : -1, bits);
}

/** acc ← acc ± PRG(seed) mod 2^B (raw keystream words, reduced once by the ring operation). */
export async function applyMask(acc: Uint32Array, seed: Uint8Array, sign: 1 | -1, bits: number): Promise<void> {
  const words = await expandWords(seed, acc.length);
  if (sign === 1) addInPlace(acc, words, bits);
  else subInPlace(acc, words, bits);
}

/** Runs async jobs with at most `limit` in flight (mask expansions run on WebCrypto's worker threads). */
export async function runLimited(jobs: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, jobs.length) }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
}

/** How many mask expansions to keep in flight. */
export const EXPANSION_CONCURRENCY = 4;

/** One mask the unmasking removes: its PRG seed, added (+1) or subtracted (−1). */
export interface MaskTerm {
  readonly seed: Uint8Array;
  readonly sign: 1 | -1;
}

/**
 * Where unmasking regenerates its masks — the heavy step of a round. In process by default; a coordinator
 * may split it by coordinate ranges across worker threads (each computing `maskSlice` of its range).
 */
export interface MaskApplier {
  /** sum ← sum + Σ sign·PRG(seed) mod 2^bits. */
  apply(sum: Uint32Array, terms: readonly MaskTerm[], bits: number): Promise<void>;
}

export const inProcessMasks: MaskApplier = {
  apply: (sum, terms, bits) =>
    runLimited(
      terms.map((t) => () => applyMask(sum, t.seed, t.sign, bits)),
      EXPANSION_CONCURRENCY,
    ),
};

/** Σ sign·PRG(seed) over words [start, start + count), mod 2^bits: one range's share of the masks. */
export async function maskSlice(terms: readonly MaskTerm[], start: number, count: number, bits: number): Promise<Uint32Array> {
  const acc = new Uint32Array(count);
  await runLimited(
    terms.map((t) => async () => {
      const words = await expandWordsAt(t.seed, start, count);
      if (t.sign === 1) addInPlace(acc, words, bits);
      else subInPlace(acc, words, bits);
    }),
    EXPANSION_CONCURRENCY,
  );
  return acc;
}
