import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DiscreteGaussianSampler,
  bernoulliExpMinusOne,
  bernoulliExpNeg,
  bernoulliExpNegBig,
  sampleDiscreteLaplace,
  uniformBelow,
  uniformBelowBig,
} from './discreteGaussian.ts';
import { chachaRandomWords, cryptoRandomWords } from './random.ts';
import { parseRational, rational, rationalAtLeast } from './rational.ts';
import { chiSquareAgainstPmf, chiSquareCritical, discreteGaussianPmf, histogram } from './testStats.ts';

/** Deterministic CSPRNG streams, so the statistical thresholds below are reproducible, not flaky. */
function seeded(tag: number) {
  const seed = new Uint8Array(32);
  seed[0] = tag;
  seed[31] = 0x5a;
  return chachaRandomWords(seed);
}

/** |observed − expected| within z standard errors of a binomial proportion. */
function expectProportion(hits: number, n: number, p: number, z = 5) {
  const se = Math.sqrt((p * (1 - p)) / n);
  expect(Math.abs(hits / n - p)).toBeLessThanOrEqual(z * se);
}

afterEach(() => vi.restoreAllMocks());

describe('uniform integers', () => {
  it('uniformBelow is uniform for small, 32-bit and 52-bit ranges', () => {
    const rw = seeded(1);
    for (const m of [3, 1001, 3_000_000_000, 2 ** 40 + 12345]) {
      const n = 60_000;
      const bins = Math.min(6, m);
      const counts = new Array<number>(bins).fill(0);
      let outOfRange = 0;
      for (let i = 0; i < n; i++) {
        const v = uniformBelow(rw, m);
        if (!(v >= 0 && v < m && Number.isInteger(v))) outOfRange++;
        counts[Math.floor((v * bins) / m)]!++;
      }
      expect(outOfRange).toBe(0);
      // Bin i holds the integers v with floor(v·bins/m) = i; count them exactly.
      let stat = 0;
      for (let i = 0; i < bins; i++) {
        const size = Math.ceil(((i + 1) * m) / bins) - Math.ceil((i * m) / bins);
        const e = (n * size) / m;
        stat += (counts[i]! - e) ** 2 / e;
      }
      expect(stat).toBeLessThan(chiSquareCritical(bins - 1));
    }
  });

  it('uniformBelowBig handles ranges beyond 2^53', () => {
    const rw = seeded(2);
    const m = (1n << 70n) + 3n;
    let below = 0;
    const n = 20_000;
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const v = uniformBelowBig(rw, m);
      if (!(v >= 0n && v < m)) outOfRange++;
      if (v < m / 2n) below++;
    }
    expect(outOfRange).toBe(0);
    expectProportion(below, n, 0.5);
  });
});

describe('Bernoulli(exp(−γ)) — CKS Algorithm 1', () => {
  const cases: [number, number][] = [
    [0, 1],
    [1, 3],
    [1, 1],
    [7, 5],
    [5, 2],
    [123456789, 40000000],
  ];
  for (const [num, den] of cases) {
    it(`matches exp(−${num}/${den}) in the double and BigInt paths`, () => {
      const p = Math.exp(-num / den);
      const n = 100_000;
      const rw = seeded(3);
      let hits = 0;
      for (let i = 0; i < n; i++) if (bernoulliExpNeg(rw, num, den)) hits++;
      expectProportion(hits, n, p);
      let big = 0;
      for (let i = 0; i < n / 4; i++) if (bernoulliExpNegBig(rw, BigInt(num), BigInt(den))) big++;
      expectProportion(big, n / 4, p);
    });
  }

  it('Bernoulli(exp(−1)) has mean 1/e', () => {
    const rw = seeded(4);
    const n = 200_000;
    let hits = 0;
    for (let i = 0; i < n; i++) if (bernoulliExpMinusOne(rw)) hits++;
    expectProportion(hits, n, Math.exp(-1));
  });

  it('handles huge rationals exactly in BigInt', () => {
    const rw = seeded(5);
    // γ = (10^30 + 1)/(2·10^30) ≈ 0.5 with a denominator far beyond 2^53.
    const num = 10n ** 30n + 1n;
    const den = 2n * 10n ** 30n;
    const n = 40_000;
    let hits = 0;
    for (let i = 0; i < n; i++) if (bernoulliExpNegBig(rw, num, den)) hits++;
    expectProportion(hits, n, Math.exp(-0.5));
  });
});

describe('discrete Laplace — CKS Algorithm 2', () => {
  for (const t of [1, 3, 50]) {
    it(`Lap_Z(${t}) fits exp(−|x|/t) by χ²`, () => {
      const rw = seeded(6);
      const n = 100_000;
      const xs = Array.from({ length: n }, () => sampleDiscreteLaplace(rw, t));
      // P(x) = (1 − e^(−1/t)) / (1 + e^(−1/t)) · e^(−|x|/t)
      const r = Math.exp(-1 / t);
      const pmf = (y: number) => ((1 - r) / (1 + r)) * Math.exp(-Math.abs(y) / t);
      const lim = 40 * t;
      const { stat, df } = chiSquareAgainstPmf(histogram(xs), n, pmf, -lim, lim);
      expect(stat).toBeLessThan(chiSquareCritical(df));
    });
  }
});

describe('discrete Gaussian — CKS Algorithm 3', () => {
  // σ² < 1, small, rational, large (≥ 10^6) and one past the double fast path (BigInt arithmetic).
  const cases: [string, number][] = [
    ['1/2', 150_000],
    ['1', 150_000],
    ['7/3', 150_000],
    ['100', 150_000],
    ['1000000', 150_000],
    ['123456789', 60_000],
  ];
  for (const [s2text, n] of cases) {
    it(`N_Z(0, ${s2text}) fits the exact pmf (χ²) and its variance`, () => {
      const sigma2 = parseRational(s2text);
      const s2 = Number(sigma2.num) / Number(sigma2.den);
      const sampler = new DiscreteGaussianSampler(sigma2, seeded(7));
      const xs = new Float64Array(n);
      for (let i = 0; i < n; i++) xs[i] = sampler.sample();
      const { pmf, limit, variance } = discreteGaussianPmf(s2);
      const { stat, df } = chiSquareAgainstPmf(histogram(xs), n, pmf, -limit, limit);
      expect(stat).toBeLessThan(chiSquareCritical(df));
      let sum = 0;
      let sq = 0;
      for (const x of xs) {
        sum += x;
        sq += x * x;
      }
      // Mean 0 and E[x²] = the pmf's variance, each within 5 standard errors (Var x² ≈ 2σ⁴ for a Gaussian).
      expect(Math.abs(sum / n)).toBeLessThan(5 * Math.sqrt(variance / n));
      expect(Math.abs(sq / n - variance)).toBeLessThan(5 * Math.sqrt((2 * variance * variance + variance) / n));
    });
  }

  it('uses no Math.random and no floating-point exp/log to decide', () => {
    const random = vi.spyOn(Math, 'random').mockImplementation(() => {
      throw new Error('Math.random used');
    });
    const exp = vi.spyOn(Math, 'exp').mockImplementation(() => {
      throw new Error('Math.exp used');
    });
    const log = vi.spyOn(Math, 'log').mockImplementation(() => {
      throw new Error('Math.log used');
    });
    for (const s2 of [rational(1n, 3n), rational(10n ** 6n, 1n), rational(10n ** 10n, 7n)]) {
      const sampler = new DiscreteGaussianSampler(s2, cryptoRandomWords());
      for (let i = 0; i < 2000; i++) sampler.sample();
    }
    expect(random).not.toHaveBeenCalled();
    expect(exp).not.toHaveBeenCalled();
    expect(log).not.toHaveBeenCalled();
  });

  it('takes t = floor(σ) + 1 and refuses σ ≥ 2^40', () => {
    expect(new DiscreteGaussianSampler(rational(1n, 2n), cryptoRandomWords()).t).toBe(1);
    expect(new DiscreteGaussianSampler(rational(99n, 1n), cryptoRandomWords()).t).toBe(10);
    expect(new DiscreteGaussianSampler(rational(100n, 1n), cryptoRandomWords()).t).toBe(11);
    expect(() => new DiscreteGaussianSampler(rational(1n << 82n, 1n), cryptoRandomWords())).toThrow(/too large/);
  });
});

describe('rationals', () => {
  it('rationalAtLeast never rounds a variance down and stays within 2^-21', () => {
    for (const x of [1e-9, 0.3, 1, 2.5, 1234.5678, 999999.999, 3.3e6, 7.7e12]) {
      const r = rationalAtLeast(x);
      // Exact comparison num/den >= x: x is a dyadic rational, so compare num·2^k >= x·den·2^k in BigInt.
      const [m, e] = dyadic(x);
      const lhs = r.num * (e < 0 ? 1n << BigInt(-e) : 1n);
      const rhs = m * r.den * (e > 0 ? 1n << BigInt(e) : 1n);
      expect(lhs >= rhs).toBe(true);
      expect(Number(r.num) / Number(r.den) / x - 1).toBeLessThan(2 ** -21);
    }
  });

  it('parseRational accepts P/Q and integers and rejects the rest', () => {
    expect(parseRational('6/4')).toEqual({ num: 3n, den: 2n });
    expect(parseRational('42')).toEqual({ num: 42n, den: 1n });
    for (const bad of ['0', '1/0', '-1/2', '1.5', 'abc', '']) expect(() => parseRational(bad)).toThrow();
  });
});

/** x = m·2^e exactly, for a positive double x. */
function dyadic(x: number): [bigint, number] {
  let e = 0;
  while (!Number.isInteger(x)) {
    x *= 2;
    e--;
  }
  return [BigInt(x), e];
}
