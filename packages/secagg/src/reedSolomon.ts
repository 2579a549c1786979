/**
 * Error-correcting reconstruction of a Shamir secret. Shares of a t-of-n sharing are a codeword of the
 * Reed–Solomon code {(f(x_1), …, f(x_m)) : deg f < t}, minimum distance m − t + 1, so from m ≥ t shares up
 * to ⌊(m − t)/2⌋ wrong ones can be corrected and their holders named.
 *
 * Decoder: S. Gao, "A New Algorithm for Decoding Reed–Solomon Codes", in Communications, Information and
 * Network Security, Kluwer 2003, pp. 55–68 (Algorithm 1):
 *   1. g1 = the interpolant of degree < m through all m received points; g0 = Π (X − x_i);
 *   2. run the extended Euclidean algorithm on (g0, g1), stopping at the first remainder g with
 *      deg g < (m + t)/2, where g = u·g0 + v·g1;
 *   3. f = g / v; if v divides g exactly and deg f < t, f is the message polynomial, otherwise there are
 *      more errors than the code corrects.
 * Every step is O(m²) field operations (interpolation, the Euclidean steps whose degree drops sum to m, the
 * final division and the m evaluations).
 *
 * What a caller must do with the answer: a decoding is the unique codeword within ⌊(m − t)/2⌋ of what was
 * received, but when more shares than that are wrong it may be a *different* codeword (an adversary that
 * controls enough shares can steer it), whose "wrong" list then names honest holders. So the secret must be
 * checked against an independent commitment (SecAgg: SHA-256 of b_v, or the advertised X25519 key of s_v^SK)
 * before the secret is used or anyone is blamed; only a verified decoding identifies liars.
 */
import { SecAggError } from './errors.ts';
import { FIELD_PRIME } from './field.ts';
import { degree, interpolate, polyDivRem, polyEval, polyFromRoots, polyMul, polySub, type Poly } from './poly.ts';
import type { ShamirShare } from './shamir.ts';

const MAX_ID = 0xffffffff;

export type ShareDecoding =
  | {
      readonly ok: true;
      /** f(0): the secret as a field element (a 32-byte secret is below 2^256; a wrong decoding may not be). */
      readonly secret: bigint;
      /** The x (holder ids) of the shares that disagree with f, ascending; at most `correctable`. */
      readonly wrong: readonly number[];
      /** ⌊(m − t)/2⌋: how many wrong shares this decoding could have corrected. */
      readonly correctable: number;
    }
  | {
      readonly ok: false;
      /** 'too-few-shares': m < t. 'too-many-errors': no codeword within ⌊(m − t)/2⌋ of the shares. */
      readonly reason: 'too-few-shares' | 'too-many-errors';
      readonly message: string;
      readonly correctable: number;
    };

/**
 * Decodes all `shares` (distinct client-id x, y in GF(p)) of a secret shared with threshold t. Never
 * returns a codeword farther than ⌊(m − t)/2⌋ from the shares; see the module note on verifying the result.
 * Throws SecAggError('bad-message') on malformed input (duplicate or invalid x, y outside the field).
 */
export function decodeShares(shares: readonly ShamirShare[], threshold: number): ShareDecoding {
  const m = shares.length;
  const t = threshold;
  if (!Number.isInteger(t) || t < 1) throw new SecAggError('bad-parameters', `threshold ${t} must be a positive integer`);
  const seen = new Set<number>();
  for (const s of shares) {
    if (!Number.isInteger(s.x) || s.x < 1 || s.x > MAX_ID) throw new SecAggError('bad-message', `share x-coordinate ${s.x} must be a client id in [1, 2^32)`);
    if (seen.has(s.x)) throw new SecAggError('bad-message', `duplicate share x-coordinate ${s.x}`);
    if (typeof s.y !== 'bigint' || s.y < 0n || s.y >= FIELD_PRIME) throw new SecAggError('bad-message', `share of holder ${s.x} is not a field element`, s.x);
    seen.add(s.x);
  }
  if (m < t) return { ok: false, reason: 'too-few-shares', message: `need t=${t} shares, got ${m}`, correctable: 0 };
  const correctable = Math.floor((m - t) / 2);
  const fail = (): ShareDecoding => ({
    ok: false,
    reason: 'too-many-errors',
    message: `the ${m} shares are not within ${correctable} error(s) of any degree < ${t} polynomial: more than ${correctable} are wrong`,
    correctable,
  });

  const xs = shares.map((s) => BigInt(s.x));
  const g0 = polyFromRoots(xs);
  const g1 = interpolate(
    xs,
    shares.map((s) => s.y),
    g0,
  );
  // Extended Euclid on (g0, g1), tracking only the g1 cofactor v: r_(i+1) = r_(i−1) − q r_i, same for v.
  let [rPrev, r]: [Poly, Poly] = [g0, g1];
  let [vPrev, v]: [Poly, Poly] = [[], [1n]];
  // No Euclidean step (deg g1 < (m + t)/2): f = g1, which passes through every share, so none is wrong.
  const noStep = 2 * degree(r) < m + t;
  while (2 * degree(r) >= m + t) {
    const { q, r: rest } = polyDivRem(rPrev, r);
    [rPrev, r] = [r, rest];
    [vPrev, v] = [v, polySub(vPrev, polyMul(q, v))];
  }
  const { q: f, r: rem } = polyDivRem(r, v);
  if (degree(rem) >= 0 || degree(f) >= t) return fail();
  if (noStep) return { ok: true, secret: f[0] ?? 0n, wrong: [], correctable };
  const wrong = shares
    .filter((s) => polyEval(f, BigInt(s.x)) !== s.y)
    .map((s) => s.x)
    .sort((a, b) => a - b);
  // Gao's theorem bounds this by deg v ≤ ⌊(m − t)/2⌋; checked rather than trusted.
  if (wrong.length > correctable) return fail();
  return { ok: true, secret: f[0] ?? 0n, wrong, correctable };
}

/**
 * The holders whose shares are off the degree < t polynomial through `basis` (t shares taken as right, e.g.
 * of a decoding that verified): with a verified secret, exactly the shares that are wrong.
 */
export function sharesOffPolynomial(shares: readonly ShamirShare[], basis: readonly ShamirShare[]): number[] {
  const f = interpolate(
    basis.map((s) => BigInt(s.x)),
    basis.map((s) => s.y),
  );
  return shares
    .filter((s) => polyEval(f, BigInt(s.x)) !== s.y)
    .map((s) => s.x)
    .sort((a, b) => a - b);
}
