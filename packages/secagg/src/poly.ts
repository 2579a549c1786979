/**
 * Dense polynomials over GF(p) (field.ts), as coefficient arrays lowest degree first, for the Reed–Solomon
 * decoder (reedSolomon.ts). Every result is trimmed (no zero leading coefficient); the zero polynomial is [].
 * Inputs must already be field elements in [0, p).
 */
import { invert, mod } from './field.ts';

export type Poly = readonly bigint[];

/** The degree, −1 for the zero polynomial. */
export function degree(a: Poly): number {
  let d = a.length - 1;
  while (d >= 0 && a[d] === 0n) d--;
  return d;
}

function trim(a: bigint[]): bigint[] {
  a.length = degree(a) + 1;
  return a;
}

export function polySub(a: Poly, b: Poly): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) out.push(mod((a[i] ?? 0n) - (b[i] ?? 0n)));
  return trim(out);
}

export function polyMul(a: Poly, b: Poly): bigint[] {
  const da = degree(a);
  const db = degree(b);
  if (da < 0 || db < 0) return [];
  // Accumulate exact products and reduce each coefficient once.
  const out = new Array<bigint>(da + db + 1).fill(0n);
  for (let i = 0; i <= da; i++) {
    if (a[i] === 0n) continue;
    for (let j = 0; j <= db; j++) out[i + j]! += a[i]! * b[j]!;
  }
  return trim(out.map(mod));
}

/** Euclidean division: a = q·b + r with deg r < deg b (b ≠ 0). O(deg q · deg b) field operations. */
export function polyDivRem(a: Poly, b: Poly): { q: bigint[]; r: bigint[] } {
  const db = degree(b);
  if (db < 0) throw new RangeError('division by the zero polynomial');
  const r = trim(a.slice());
  const dr = r.length - 1;
  if (dr < db) return { q: [], r };
  const lead = invert(b[db]!);
  const q = new Array<bigint>(dr - db + 1).fill(0n);
  for (let i = dr; i >= db; i--) {
    const c = mod(r[i]! * lead);
    q[i - db] = c;
    if (c === 0n) continue;
    for (let j = 0; j <= db; j++) r[i - db + j] = mod(r[i - db + j]! - c * b[j]!);
  }
  return { q: trim(q), r: trim(r) };
}

/** a(x) by Horner's rule. */
export function polyEval(a: Poly, x: bigint): bigint {
  let y = 0n;
  for (let i = a.length - 1; i >= 0; i--) y = mod(y * x + a[i]!);
  return y;
}

/** Π (X − x_i): O(m²). */
export function polyFromRoots(xs: readonly bigint[]): bigint[] {
  let out: bigint[] = [1n];
  for (const x of xs) {
    const next = new Array<bigint>(out.length + 1).fill(0n);
    for (let i = 0; i < out.length; i++) {
      next[i + 1] = mod(next[i + 1]! + out[i]!);
      next[i] = mod(next[i]! - x * out[i]!);
    }
    out = next;
  }
  return out;
}

/**
 * The unique polynomial of degree < m through m points with distinct x, in O(m²) field operations:
 * with g0 = Π (X − x_j), L = Σ_i y_i / g0'(x_i) · g0 / (X − x_i), each quotient by synthetic division and
 * all m denominators inverted at once (Montgomery's trick). Pass `g0` when the caller already has it.
 */
export function interpolate(xs: readonly bigint[], ys: readonly bigint[], g0: Poly = polyFromRoots(xs)): bigint[] {
  const m = xs.length;
  if (ys.length !== m) throw new RangeError('interpolate: as many x as y');
  if (m === 0) return [];
  const quotients: bigint[][] = [];
  const dens: bigint[] = [];
  for (let i = 0; i < m; i++) {
    // g0 / (X − x_i) by synthetic division (exact: x_i is a root); its value at x_i is g0'(x_i).
    const x = xs[i]!;
    const q = new Array<bigint>(m).fill(0n);
    let carry = 0n;
    for (let k = m; k >= 1; k--) {
      carry = mod(g0[k]! + carry * x);
      q[k - 1] = carry;
    }
    quotients.push(q);
    // g0'(x_i) = Π_{j≠i} (x_i − x_j): exact products of differences (cheap for client-id x), reduced rarely.
    let d = 1n;
    for (let j = 0; j < m; j++) {
      if (j === i) continue;
      d *= x - xs[j]!;
      if ((j & 7) === 7) d = mod(d);
    }
    d = mod(d);
    if (d === 0n) throw new RangeError('interpolate: the x must be distinct');
    dens.push(d);
  }
  const invs = invertAll(dens);
  const out = new Array<bigint>(m).fill(0n);
  for (let i = 0; i < m; i++) {
    const c = mod(ys[i]! * invs[i]!);
    if (c === 0n) continue;
    const q = quotients[i]!;
    for (let k = 0; k < m; k++) out[k]! += c * q[k]!;
  }
  return trim(out.map(mod));
}

/** The inverses of non-zero field elements with one inversion (Montgomery's trick). */
function invertAll(xs: readonly bigint[]): bigint[] {
  const prefix: bigint[] = [];
  let acc = 1n;
  for (const x of xs) {
    prefix.push(acc);
    acc = mod(acc * x);
  }
  let inv = invert(acc);
  const out = new Array<bigint>(xs.length);
  for (let i = xs.length - 1; i >= 0; i--) {
    out[i] = mod(inv * prefix[i]!);
    inv = mod(inv * xs[i]!);
  }
  return out;
}
