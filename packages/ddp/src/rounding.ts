/**
 * Conditional randomized rounding (Kairouz et al. 2021, §4.1 and Theorem 1 / Prop. 22 of the arXiv version):
 * each coordinate rounds up with probability equal to its fractional part, and the whole vector is redrawn
 * until its L2 norm is at most the inflated bound Δ₂. The bound is what the accountant uses as the L2
 * sensitivity on the integer grid, so the check here is what makes the privacy analysis hold.
 */
import { RoundingBoundError } from './errors.ts';
import type { RandomWords } from './random.ts';

/**
 * Δ₂ = min( a + √d, sqrt(a² + d/4 + √(2 ln(1/β))·(a + √d/2)) ) for a vector of L2 norm a (already scaled to
 * the grid) in dimension d. With β = 0 only the first, deterministic, term applies: every coordinate moves
 * by less than 1, so the norm grows by at most √d.
 */
export function inflatedL2Bound(scaledNorm: number, beta: number, dim: number): number {
  const bound1 = scaledNorm + Math.sqrt(dim);
  if (beta === 0) return bound1;
  const squared = scaledNorm * scaledNorm + 0.25 * dim + Math.sqrt(2 * Math.log(1 / beta)) * (scaledNorm + 0.5 * Math.sqrt(dim));
  return Math.min(bound1, Math.sqrt(squared));
}

/** On the integer grid L1 <= √d·L2 and L1 <= L2² (every nonzero coordinate has |x| >= 1). */
export function l1BoundFromL2(l2: number, dim: number): number {
  return l2 * Math.min(Math.sqrt(dim), l2);
}

const TWO32 = 4294967296;

/**
 * Rounds `x` (grid units) into `out` as integers modulo 2^bits, redrawing until Σ round(x)² <= bound².
 * Each coordinate rounds up when a uniform 32-bit word u satisfies u < frac·2^32, i.e. with probability
 * frac rounded up to a multiple of 2^-32 (the only deviation from unbiased rounding; the norm bound, which
 * carries the privacy guarantee, is enforced exactly). Returns the number of draws used.
 */
export function conditionalRoundInto(x: Float64Array, out: Uint32Array, bits: number, bound: number, rw: RandomWords, maxTries: number): number {
  const mask = bits === 32 ? -1 : 2 ** bits - 1;
  const boundSq = bound * bound;
  const n = x.length;
  for (let tries = 1; tries <= maxTries; tries++) {
    let normSq = 0;
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const f = Math.floor(v);
      const r = rw.next() < (v - f) * TWO32 ? f + 1 : f;
      normSq += r * r;
      out[i] = r & mask;
    }
    if (normSq <= boundSq) return tries;
  }
  throw new RoundingBoundError(
    `conditional randomized rounding exceeded the norm bound ${bound.toFixed(3)} in ${maxTries} draws; increase beta or check that the input was clipped`,
  );
}
