/**
 * Exact sampling from the discrete Gaussian N_Z(0, σ²) for a rational σ² = p/q.
 *
 * The Bernoulli(exp(−γ)) building block is Canonne, Kamath & Steinke, "The Discrete Gaussian for Differential
 * Privacy" (NeurIPS 2020), Algorithm 1. The sampler itself is a rejection scheme on Gaussian-shaped blocks, in
 * the spirit of Karney, "Sampling exactly from the normal distribution" (ACM TOMS 2016), Algorithm D, but with
 * blocks of integer width so that σ need not be rational (see `DiscreteGaussianSampler`). It replaces CKS
 * Algorithm 3, whose Laplace proposal needs 2·p·q·t² and left the 2^52 range of doubles above σ ≈ 6 900, so
 * that every acceptance test ran in BigInt (issue 18 §2).
 *
 * Every accept/reject decision compares uniform integers from a CSPRNG with exact integer bounds; no
 * floating-point exp or log is ever evaluated. Doubles hold integers below 2^53, where they are exact, or a product
 * of two such integers whose rounding (monotone, to nearest) provably keeps the comparison's direction
 * (bernoulliRatio), undecided cases going on in BigInt; past 2^53 the same decisions run on BigInt. Both paths
 * produce exactly the same distribution.
 */
import type { RandomWords } from './random.ts';
import type { Rational } from './rational.ts';

const TWO32 = 4294967296;
/** Integers below this are exact in a double, with room for one more bit. */
const FAST_LIMIT = 2 ** 52;
/** Largest supported σ (block width w ≈ σ·√2 stays a safe integer with room to spare). */
const MAX_SIGMA_LOG2 = 40;
const TWO30 = 1073741824;
const MASK30 = 0x3fffffff;
/** The exponent table's reach: blocks K < TABLE_BLOCKS (P(K ≥ 6) ≈ e^−36), for block widths up to TABLE_MAX_W. */
const TABLE_BLOCKS = 6;
const TABLE_MAX_W = 64;
/** Words the sampler buffers from its RandomWords at a time. */
const SAMPLER_WORDS = 1024;

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

/** Bernoulli(e^−1) from an EXP_MINUS_ONE_TABLE outcome: 0/1 decided, 2 (its first four draws succeeded) drawn on from k = 6. */
function expMinusOneFrom(rw: RandomWords, outcome: number): boolean {
  if (outcome !== 2) return outcome === 1;
  let k = 6;
  while (uniformBelowSmall(rw, k) === 0) k++;
  return (k & 1) === 1;
}

/** Bernoulli(exp(-1)) — Algorithm 1 at γ = 1: its first draw Bernoulli(1/1) always succeeds, so K >= 2. */
export function bernoulliExpMinusOne(rw: RandomWords): boolean {
  for (;;) {
    const w = rw.bits(7);
    if (w < 120) return expMinusOneFrom(rw, EXP_MINUS_ONE_TABLE[w]!);
  }
}

/** floor(num/den) for integers below 2^52: the float quotient may round across an integer, so settle it exactly. */
function exactFloor(num: number, den: number): number {
  const q = Math.floor(num / den);
  if (q * den > num) return q - 1;
  return (q + 1) * den <= num ? q + 1 : q;
}

/**
 * Bernoulli(num/den), 0 <= num <= den <= 2^52, as U < num/den for U uniform in [0, 1) whose binary digits are drawn
 * lazily, 32 at a time: with U's first 32 bits u, U ∈ [u, u + 1)·2^−32, so (u + 1)·den <= num·2^32 decides true
 * and u·den >= num·2^32 false — no rejection, unlike a uniform below den. The products are doubles, correctly
 * rounded and so monotone: fl((u + 1)·den) < num·2^32 (exact, a power of two times an integer) implies the exact
 * product is ≤ it, and fl(u·den) > num·2^32 that the exact one is >. What neither decides (U's interval straddles
 * num/den, or a product rounds onto the bound: about 2^−32 of calls) goes on exactly in BigInt.
 */
export function bernoulliRatio(rw: RandomWords, num: number, den: number): boolean {
  const u = rw.next();
  const g = num * TWO32;
  if ((u + 1) * den < g) return true;
  if (u * den > g) return false;
  return bernoulliRatioFrom(rw, u, num, den);
}

/** bernoulliRatio after its first 32 bits u left it undecided: more bits of U, compared exactly. */
function bernoulliRatioFrom(rw: RandomWords, u: number, num: number, den: number): boolean {
  const d = BigInt(den);
  let prefix = BigInt(u);
  let target = BigInt(num) << 32n;
  for (;;) {
    if ((prefix + 1n) * d <= target) return true;
    if (prefix * d >= target) return false;
    prefix = (prefix << 32n) | BigInt(rw.next());
    target <<= 32n;
  }
}

/**
 * Bernoulli(exp(-num/den)) for 0 <= num < den <= 2^52 (Algorithm 1, γ ∈ [0,1)) from its k-th draw, the earlier
 * ones having succeeded: A_k ~ Bernoulli(γ/k), drawn as Bernoulli(1/k) ∧ Bernoulli(γ) (independent, so their
 * product), until one fails; the answer is whether that k is odd.
 */
function bernoulliExpNegFractionFrom(rw: RandomWords, num: number, den: number, k: number): boolean {
  if (num === 0) return true;
  for (; ; k++) if (!((k === 1 || uniformBelow(rw, k) === 0) && bernoulliRatio(rw, num, den))) return (k & 1) === 1;
}

/** Bernoulli(exp(-num/den)) for num >= 0, den >= 1, both below 2^52 (Algorithm 1, both cases). */
export function bernoulliExpNeg(rw: RandomWords, num: number, den: number): boolean {
  const whole = exactFloor(num, den);
  for (let i = 0; i < whole; i++) if (!bernoulliExpMinusOne(rw)) return false;
  return bernoulliExpNegFractionFrom(rw, num - whole * den, den, 1);
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

/** EXP_MINUS_ONE_TABLE indexed by any 7-bit value: 3 marks the 8 values ≥ 120, which are redrawn. */
const EXP_MINUS_ONE_BY_7_BITS: Uint8Array = (() => {
  const table = new Uint8Array(128).fill(3);
  table.set(EXP_MINUS_ONE_TABLE);
  return table;
})();

/**
 * The geometric count G of successes of Bernoulli(exp(−1)) before its first failure (P(G ≥ g) = e^−g), decided
 * by two calls' first four draws each, W₁ + 120·W₂ for a uniform 14-bit index below 14 400 (W₁, W₂ independent
 * and uniform in [0, 120)): 0 (the first failed), 1 (the first succeeded, the second failed), 2 (the first
 * succeeded, the second is a success or undecided: count on), 3 (the first is undecided), 4 (index ≥ 14 400).
 */
const GEOMETRIC_TABLE: Uint8Array = (() => {
  const table = new Uint8Array(16384).fill(4);
  for (let w2 = 0; w2 < 120; w2++) {
    for (let w1 = 0; w1 < 120; w1++) {
      const first = EXP_MINUS_ONE_TABLE[w1]!;
      const second = EXP_MINUS_ONE_TABLE[w2]!;
      table[w1 + 120 * w2] = first === 0 ? 0 : first === 2 ? 3 : second === 0 ? 1 : 2;
    }
  }
  return table;
})();

/** Refills a sampler's word buffer from its stream; returns the new read position 0. */
function refill(rw: RandomWords, buf: Uint32Array): number {
  rw.fill(buf);
  return 0;
}

/** Step 1 for GEOMETRIC_TABLE's codes 2 and 3 (W₂ = second): K, or −1 when e^{−K(K−1)} rejects it. */
function slowBlock(rw: RandomWords, code: number, second: number): number {
  let k: number;
  if (code === 3 && !expMinusOneFrom(rw, 2)) k = 0;
  else if (!expMinusOneFrom(rw, EXP_MINUS_ONE_TABLE[second]!)) k = 1;
  else {
    k = 2;
    while (bernoulliExpMinusOne(rw)) k++;
  }
  for (let i = k * (k - 1); i > 0; i--) if (!bernoulliExpMinusOne(rw)) return -1;
  return k;
}

interface ExponentTable {
  readonly blocks: number;
  readonly wholeOf: Int32Array;
  readonly remainderOf: Float64Array;
}
const NO_TABLE: ExponentTable = { blocks: 0, wholeOf: new Int32Array(0), remainderOf: new Float64Array(0) };
/** The last few σ²'s tables: an encoder or a noisy count builds a sampler a call at the same σ². */
const exponentTables = new Map<string, ExponentTable>();
const EXPONENT_TABLES_KEPT = 8;

/**
 * (x²q − 2K²p)/(2p) for m = K·w + J below TABLE_BLOCKS·w, as whole part and remainder at 2m + (1 on the negative
 * side), exact in BigInt. None (NO_TABLE) for a tiny σ² whose whole parts pass int32 (q/p beyond about 10^8).
 */
function exponentTable(sigma2: Rational, w: number): ExponentTable {
  const key = `${sigma2.num}/${sigma2.den}`;
  const kept = exponentTables.get(key);
  if (kept) return kept;
  const twoP = 2n * sigma2.num;
  const blocks = TABLE_BLOCKS * w;
  const wholeOf = new Int32Array(2 * blocks);
  const remainderOf = new Float64Array(2 * blocks);
  let table: ExponentTable = { blocks, wholeOf, remainderOf };
  for (let m = 0; m < blocks; m++) {
    const k = BigInt(Math.floor(m / w));
    for (const negative of [0, 1]) {
      const x = BigInt(m + negative);
      const num = x * x * sigma2.den - 2n * k * k * sigma2.num;
      const whole = num / twoP;
      if (whole > 0x7fffffffn) table = NO_TABLE;
      wholeOf[2 * m + negative] = Number(whole);
      remainderOf[2 * m + negative] = Number(num % twoP);
    }
  }
  if (exponentTables.size >= EXPONENT_TABLES_KEPT) exponentTables.delete(exponentTables.keys().next().value!);
  exponentTables.set(key, table);
  return table;
}

/**
 * Sampler for N_Z(0, σ²), σ² = p/q, by rejection from Gaussian-shaped blocks of integer width
 * w = ceil(σ·√2) (the least w with w²·q ≥ 2p):
 *
 *  1. K ≥ 0 with P(K = k) ∝ e^{−k²}: G geometric (P(G ≥ g) = e^{−g}, successes of Bernoulli(e^{−1})), kept
 *     with probability e^{−G(G−1)} (G(G−1) more Bernoulli(e^{−1}) successes), since e^{−k} · e^{−k(k−1)} = e^{−k²}
 *     (Karney 2016, Algorithm D steps 1–2 with e^{−1} for e^{−1/2});
 *  2. J uniform in [0, w) and a sign: m = K·w + J, x = m for +, x = −(m + 1) for −. Every integer x is proposed by
 *     exactly one (K, J, sign), with probability ∝ e^{−K²}, K = floor(m/w) — the negative side shifted by one, so
 *     that no draw is wasted on −0 (redrawing it cost a fifth of the proposals at σ = 1, where w = 2);
 *  3. accept with probability exp(−(x²/(2σ²) − K²)) = exp(−(x²·q − 2K²·p) / (2p)), an exact rational in [0, 1]
 *     because |x| ≥ m ≥ K·w ≥ K·σ·√2 (CKS 2020 Algorithm 1 decides it).
 *
 * The accepted x has probability ∝ e^{−K²} · e^{−x²/(2σ²) + K²} = e^{−x²/(2σ²)}: exactly N_Z(0, σ²). All integers
 * stay small (x²·q ≈ K²·2p, the denominator 2p), so doubles hold them exactly up to σ ≈ 2^25 and far beyond
 * for typical draws; a draw whose x²·q passes 2^52 is decided in BigInt. About 1.6 proposals a sample at
 * large σ (an acceptance of √π / (2·Σ_k e^{−k²}) ≈ 0.64), each a few 30-bit words.
 *
 * The hot path keeps its word buffer, bit reservoir and read position in locals (the speed target, issue 18 §2,
 * is ≥ 8 M samples/s), so its word-taking lines repeat rather than call a method; the rare paths (a block K ≥ 2,
 * an undecided Bernoulli(e^−1), Algorithm 1 past its first draw) draw from the RandomWords itself through the
 * functions above, whose words are as fresh and independent as the buffer's.
 */
export class DiscreteGaussianSampler {
  readonly sigma2: Rational;
  /** Block width w = ceil(σ·√2). */
  readonly w: number;
  private readonly p: number;
  private readonly q: number;
  /** The acceptance exponent's denominator 2p. */
  private readonly den: number;
  private readonly pBig: bigint;
  private readonly qBig: bigint;
  private readonly wBig: bigint;
  /** Whether p, q, 2p and w are exact doubles small enough for the hot path. */
  private readonly fast: boolean;
  private readonly wBits: number;
  /** Lemire's rejection threshold 2^30 mod w, for 2 < w ≤ 2^22. */
  private readonly lemireThreshold: number;
  /**
   * For w ≤ TABLE_MAX_W: the acceptance exponent (x²q − 2K²p)/(2p) of the first TABLE_BLOCKS blocks, m = K·w + J
   * below TABLE_BLOCKS·w, as its whole part and remainder at index 2m + (1 on the negative side); exact integers,
   * the same the hot path computes, looked up (at σ = 1 the divisions were a tenth of a sample).
   */
  private readonly tableBlocks: number;
  private readonly wholeOf: Int32Array;
  private readonly remainderOf: Float64Array;
  private readonly buf = new Uint32Array(SAMPLER_WORDS);
  private pos = SAMPLER_WORDS;
  private reservoir = 0;
  private reservoirBits = 0;

  constructor(
    sigma2: Rational,
    private readonly rw: RandomWords,
  ) {
    if (sigma2.num <= 0n || sigma2.den <= 0n) throw new RangeError('σ² must be a positive rational');
    if (sigma2.num / sigma2.den >= 1n << BigInt(2 * MAX_SIGMA_LOG2)) {
      throw new RangeError(`σ² = ${sigma2.num}/${sigma2.den} is too large: σ must be below 2^${MAX_SIGMA_LOG2}`);
    }
    const twoP = 2n * sigma2.num;
    let w = isqrt(twoP / sigma2.den);
    while (w * w * sigma2.den < twoP) w++;
    this.sigma2 = sigma2;
    this.w = Number(w);
    this.wBig = w;
    this.pBig = sigma2.num;
    this.qBig = sigma2.den;
    this.p = Number(sigma2.num);
    this.q = Number(sigma2.den);
    this.den = 2 * this.p;
    const limit = BigInt(FAST_LIMIT);
    this.fast = twoP <= limit && sigma2.den <= limit && w <= BigInt(TWO30);
    this.wBits = this.w <= 1 ? 0 : 32 - Math.clz32(this.w - 1);
    this.lemireThreshold = TWO30 % this.w;
    const table = this.fast && this.w <= TABLE_MAX_W ? exponentTable(sigma2, this.w) : NO_TABLE;
    this.tableBlocks = table.blocks;
    this.wholeOf = table.wholeOf;
    this.remainderOf = table.remainderOf;
  }

  /** One exact sample. */
  sample(): number {
    if (!this.fast) return this.sampleBig();
    const w = this.w;
    const wBits = this.wBits;
    const q = this.q;
    const p = this.p;
    const den = this.den;
    const buf = this.buf;
    const rw = this.rw;
    const lemireThreshold = this.lemireThreshold;
    const tableBlocks = this.tableBlocks;
    const wholeOf = this.wholeOf;
    const remainderOf = this.remainderOf;
    const pBig = this.pBig;
    const qBig = this.qBig;
    let pos = this.pos;
    let res = this.reservoir;
    let rb = this.reservoirBits;
    for (;;) {
      // 1. K from one 14-bit index (two Bernoulli(e^−1) calls); the rest of the cases in slowBlock.
      let index: number;
      do {
        if (rb < 14) {
          if (pos === SAMPLER_WORDS) pos = refill(rw, buf);
          res = buf[pos++]! & MASK30;
          rb = 30;
        }
        index = res & 0x3fff;
        res >>>= 14;
        rb -= 14;
      } while (index >= 14400);
      let k = GEOMETRIC_TABLE[index]!;
      if (k > 1) {
        // The rare cases draw from the RandomWords itself (independent fresh words too), not the buffer.
        k = slowBlock(rw, k, (index / 120) | 0);
        if (k < 0) continue;
      }
      // 2. J uniform in [0, w): for 2 < w ≤ 2^22, Lemire's multiply-shift on one 30-bit word r (r·w < 2^52,
      // exact), rejecting the 2^30 mod w lowest products (under 2^−8 of them) — rejection on wBits reservoir bits
      // threw away up to half the draws (31 % at σ = 1 000, w = 1 415); otherwise (w ≤ 2, or w > 2^22) those bits.
      let j = 0;
      if (w > 2 && wBits <= 22) {
        for (;;) {
          if (pos === SAMPLER_WORDS) pos = refill(rw, buf);
          const prod = (buf[pos++]! & MASK30) * w;
          j = Math.floor(prod / TWO30);
          if (prod - j * TWO30 >= lemireThreshold) break;
        }
      } else if (wBits > 0) {
        do {
          if (rb < wBits) {
            if (pos === SAMPLER_WORDS) pos = refill(rw, buf);
            res = buf[pos++]! & MASK30;
            rb = 30;
          }
          j = res & ((1 << wBits) - 1);
          res >>>= wBits;
          rb -= wBits;
        } while (j >= w);
      }
      if (rb < 1) {
        if (pos === SAMPLER_WORDS) pos = refill(rw, buf);
        res = buf[pos++]! & MASK30;
        rb = 30;
      }
      const negative = res & 1;
      res >>>= 1;
      rb -= 1;
      // |x|: m = k·w + j, or m + 1 on the negative side.
      const m = k * w + j;
      const x = m + negative;
      // 3. Accept with exp(−(x²q − 2K²p)/(2p)) = exp(−1)^whole · exp(−r/den) (CKS Algorithm 1, γ > 1 case): whole
      // and r from the table for a small σ's first blocks, else computed. x²q is exact whenever it is ≤ 2^52 (a
      // product whose true value exceeds 2^53 rounds to at least 2^53), and then so is 2K²p ≤ x²q.
      let whole: number;
      let r: number;
      if (m < tableBlocks) {
        whole = wholeOf[2 * m + negative]!;
        r = remainderOf[2 * m + negative]!;
      } else {
        const square = x * x * q;
        if (square > FAST_LIMIT) {
          this.save(pos, res, rb);
          const xb = BigInt(x);
          const kb = BigInt(k);
          if (bernoulliExpNegBig(rw, xb * xb * qBig - 2n * kb * kb * pBig, 2n * pBig)) return negative === 1 ? -x : x;
          continue;
        }
        const num = square - 2 * k * k * p;
        whole = num >= den ? exactFloor(num, den) : 0;
        r = num - whole * den;
      }
      if (whole > 0) {
        let success = true;
        for (; whole > 0 && success; whole--) {
          let outcome: number;
          do {
            if (rb < 7) {
              if (pos === SAMPLER_WORDS) pos = refill(rw, buf);
              res = buf[pos++]! & MASK30;
              rb = 30;
            }
            outcome = EXP_MINUS_ONE_BY_7_BITS[res & 127]!;
            res >>>= 7;
            rb -= 7;
          } while (outcome === 3);
          success = expMinusOneFrom(rw, outcome);
        }
        if (!success) continue;
      }
      let accept = true;
      if (r !== 0) {
        // CKS Algorithm 1 for γ = r/den < 1: its first draw A₁ ~ Bernoulli(γ) inline, as U < r/den for a uniform
        // U in [0, 1) decided on its first 32 bits (bernoulliRatio); A₁ failing, the common case, accepts.
        if (pos === SAMPLER_WORDS) pos = refill(rw, buf);
        const u = buf[pos++]!;
        const g = r * TWO32;
        const first = (u + 1) * den < g ? true : u * den > g ? false : bernoulliRatioFrom(rw, u, r, den);
        if (first) accept = bernoulliExpNegFractionFrom(rw, r, den, 2);
      }
      if (accept) {
        this.save(pos, res, rb);
        return negative === 1 ? -x : x;
      }
    }
  }

  /** Adds one independent sample to each element of `out`. */
  addTo(out: Float64Array): void {
    for (let i = 0; i < out.length; i++) out[i]! += this.sample();
  }

  private save(pos: number, reservoir: number, reservoirBits: number): void {
    this.pos = pos;
    this.reservoir = reservoir;
    this.reservoirBits = reservoirBits;
  }

  /** The same three steps entirely in BigInt, for σ² whose p, q or w are too large for the hot path. */
  private sampleBig(): number {
    const rw = this.rw;
    for (;;) {
      let k = 0n;
      while (bernoulliExpMinusOne(rw)) k++;
      let kept = true;
      for (let i = k * (k - 1n); i > 0n && kept; i--) kept = bernoulliExpMinusOne(rw);
      if (!kept) continue;
      const j = uniformBelowBig(rw, this.wBig);
      const negative = rw.bit();
      const x = k * this.wBig + j + BigInt(negative);
      if (bernoulliExpNegBig(rw, x * x * this.qBig - 2n * k * k * this.pBig, 2n * this.pBig)) return Number(negative === 1 ? -x : x);
    }
  }
}
