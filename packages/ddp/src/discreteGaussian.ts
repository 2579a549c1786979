/**
 * Exact sampling from the discrete Gaussian N_Z(0, σ²), Canonne, Kamath & Steinke, "The Discrete Gaussian
 * for Differential Privacy" (NeurIPS 2020), Algorithms 1–3.
 *
 * Every accept/reject decision compares uniform integers from a CSPRNG with exact integer bounds; no
 * floating-point exp or log is ever evaluated. σ² is an exact rational num/den. Arithmetic runs on doubles
 * only while every integer involved stays below 2^52 (where doubles are exact); otherwise the same
 * algorithms run on BigInt. Both paths produce exactly the same distribution.
 */
import type { RandomWords } from './random.ts';
import type { Rational } from './rational.ts';

const TWO32 = 4294967296;
/** Integers below this are exact in a double, with room for one more bit. */
const FAST_LIMIT = 2 ** 52;
/** |a| below this keeps a² below FAST_LIMIT. */
const FAST_ROOT = 2 ** 26;
/** Largest supported Laplace scale t = floor(σ)+1, so that U + t·V stays exact. */
const MAX_T = 2 ** 40;

/** A uniform integer in [0, m) for 1 <= m <= 2^30, by rejection on ceil(log2 m) bits (acceptance > 1/2). */
function uniformBelowSmall(rw: RandomWords, m: number): number {
  if (m === 1) return 0;
  const n = 32 - Math.clz32(m - 1);
  for (;;) {
    const v = rw.bits(n);
    if (v < m) return v;
  }
}

/** A uniform integer in [0, m), 1 <= m <= 2^52, by rejection (acceptance > 1/2). */
export function uniformBelow(rw: RandomWords, m: number): number {
  if (m <= 0x40000000) return uniformBelowSmall(rw, m);
  if (m <= TWO32) {
    for (;;) {
      const v = rw.next();
      if (v < m) return v;
    }
  }
  const n = 32 - Math.clz32(Math.floor((m - 1) / TWO32));
  for (;;) {
    const v = rw.bits(n) * TWO32 + rw.next();
    if (v < m) return v;
  }
}

/** A uniform BigInt in [0, m), m >= 1, by rejection on ceil(log2 m) bits. */
export function uniformBelowBig(rw: RandomWords, m: bigint): bigint {
  if (m <= BigInt(FAST_LIMIT)) return BigInt(uniformBelow(rw, Number(m)));
  const bitLen = (m - 1n).toString(2).length;
  const words = Math.ceil(bitLen / 32);
  const topBits = bitLen - (words - 1) * 32;
  for (;;) {
    let v = BigInt(topBits <= 30 ? rw.bits(topBits) : rw.next() >>> (32 - topBits));
    for (let i = 1; i < words; i++) v = (v << 32n) | BigInt(rw.next());
    if (v < m) return v;
  }
}

/**
 * Outcome of Algorithm 1 at γ = 1 decided by its first four draws U_2..U_5 (A_k = [U_k = 0], U_k uniform in
 * [0, k)), indexed by one uniform W in [0, 5!): the mixed-radix digits U_k = floor(W/(k−1)!) mod k of a
 * uniform W are independent and uniform, so this is the same algorithm with its draws taken in one go.
 * 0: K even (false), 1: K odd (true), 2: all four succeeded (W = 0), keep drawing from k = 6.
 */
const EXP_MINUS_ONE_TABLE: Uint8Array = (() => {
  const table = new Uint8Array(120);
  for (let w = 0; w < 120; w++) {
    let outcome = 2;
    let radix = 1;
    for (let k = 2; k <= 5; k++) {
      const digit = Math.floor(w / radix) % k;
      radix *= k;
      if (digit !== 0) {
        outcome = k & 1;
        break;
      }
    }
    table[w] = outcome;
  }
  return table;
})();

/** Bernoulli(exp(-1)) — Algorithm 1 at γ = 1: its first draw Bernoulli(1/1) always succeeds, so K >= 2. */
export function bernoulliExpMinusOne(rw: RandomWords): boolean {
  for (;;) {
    const w = rw.bits(7);
    if (w >= 120) continue;
    const outcome = EXP_MINUS_ONE_TABLE[w]!;
    if (outcome !== 2) return outcome === 1;
    let k = 6;
    while (uniformBelowSmall(rw, k) === 0) k++;
    return (k & 1) === 1;
  }
}

/**
 * Bernoulli(exp(-num/den)) for 0 <= num <= den (Algorithm 1, γ ∈ [0,1]): draw A_k ~ Bernoulli(γ/k) for
 * k = 1, 2, … until one fails; the answer is whether that k is odd. Needs num, den < 2^52.
 */
function bernoulliExpNegFraction(rw: RandomWords, num: number, den: number): boolean {
  if (num === 0) return true;
  let k = 1;
  for (;;) {
    const dk = den * k;
    const success = dk <= FAST_LIMIT ? uniformBelow(rw, dk) < num : uniformBelowBig(rw, BigInt(den) * BigInt(k)) < BigInt(num);
    if (!success) return (k & 1) === 1;
    k++;
  }
}

/** Bernoulli(exp(-num/den)) for num >= 0, den >= 1, both below 2^52 (Algorithm 1, both cases). */
export function bernoulliExpNeg(rw: RandomWords, num: number, den: number): boolean {
  let whole = Math.floor(num / den);
  // The float quotient may round across an integer; settle the floor exactly (products stay below 2^53).
  if (whole * den > num) whole--;
  else if ((whole + 1) * den <= num) whole++;
  for (let i = 0; i < whole; i++) if (!bernoulliExpMinusOne(rw)) return false;
  return bernoulliExpNegFraction(rw, num - whole * den, den);
}

/** Bernoulli(exp(-num/den)) in BigInt, the same Algorithm 1 for integers of any size. */
export function bernoulliExpNegBig(rw: RandomWords, num: bigint, den: bigint): boolean {
  const whole = num / den;
  for (let i = 0n; i < whole; i++) if (!bernoulliExpMinusOne(rw)) return false;
  const rem = num - whole * den;
  if (rem === 0n) return true;
  let k = 1n;
  for (;;) {
    if (!(uniformBelowBig(rw, den * k) < rem)) return (k & 1n) === 1n;
    k++;
  }
}

/**
 * Discrete Laplace Lap_Z(t) with P(x) ∝ exp(-|x|/t) — Algorithm 2 with s = 1: a uniform U < t accepted
 * with probability exp(-U/t), plus t·V for a geometric V from Bernoulli(exp(-1)) draws, and a sign that
 * rejects "-0" so that 0 is not counted twice.
 */
export function sampleDiscreteLaplace(rw: RandomWords, t: number): number {
  for (;;) {
    const u = t <= 0x40000000 ? uniformBelowSmall(rw, t) : uniformBelow(rw, t);
    if (!bernoulliExpNegFraction(rw, u, t)) continue;
    let v = 0;
    while (bernoulliExpMinusOne(rw)) v++;
    const x = u + t * v;
    if (rw.bit() === 1) {
      if (x === 0) continue;
      return -x;
    }
    return x;
  }
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  // Newton steps from a float guess, then settle exactly.
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) break;
    x = y;
  }
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

/**
 * Sampler for N_Z(0, σ²) with σ² = num/den — Algorithm 3: draw Y ~ Lap_Z(t) with t = floor(σ)+1 and
 * accept with probability exp(-(|Y| − σ²/t)² / (2σ²)). With σ² = p/q that exponent is the exact
 * rational (|Y|·q·t − p)² / (2·p·q·t²).
 */
export class DiscreteGaussianSampler {
  readonly sigma2: Rational;
  /** Laplace scale t = floor(σ) + 1. */
  readonly t: number;
  private readonly p: bigint;
  private readonly qt: bigint;
  private readonly denBig: bigint;
  private readonly fast: boolean;
  private readonly pNum: number;
  private readonly qtNum: number;
  private readonly denNum: number;

  constructor(
    sigma2: Rational,
    private readonly rw: RandomWords,
  ) {
    if (sigma2.num <= 0n || sigma2.den <= 0n) throw new RangeError('σ² must be a positive rational');
    const t = isqrt(sigma2.num / sigma2.den) + 1n;
    if (t > BigInt(MAX_T)) throw new RangeError(`σ² = ${sigma2.num}/${sigma2.den} is too large: σ must be below 2^40`);
    this.sigma2 = sigma2;
    this.t = Number(t);
    this.p = sigma2.num;
    this.qt = sigma2.den * t;
    this.denBig = 2n * sigma2.num * sigma2.den * t * t;
    this.fast = this.denBig <= BigInt(FAST_LIMIT) && this.p <= BigInt(FAST_LIMIT) && this.qt <= BigInt(FAST_LIMIT);
    this.pNum = Number(this.p);
    this.qtNum = Number(this.qt);
    this.denNum = Number(this.denBig);
  }

  /** One exact sample. */
  sample(): number {
    const rw = this.rw;
    for (;;) {
      const y = sampleDiscreteLaplace(rw, this.t);
      const ay = y < 0 ? -y : y;
      let accept: boolean;
      if (this.fast && ay * this.qtNum <= FAST_LIMIT) {
        const a = ay * this.qtNum - this.pNum;
        if (a < FAST_ROOT && a > -FAST_ROOT) {
          accept = bernoulliExpNeg(rw, a * a, this.denNum);
        } else {
          accept = this.acceptBig(ay);
        }
      } else {
        accept = this.acceptBig(ay);
      }
      if (accept) return y;
    }
  }

  private acceptBig(ay: number): boolean {
    const a = BigInt(ay) * this.qt - this.p;
    return bernoulliExpNegBig(this.rw, a * a, this.denBig);
  }

  /** Adds one independent sample to each element of `out`. */
  addTo(out: Float64Array): void {
    for (let i = 0; i < out.length; i++) out[i]! += this.sample();
  }
}
