import { describe, expect, it } from 'vitest';
import { chooseSecAggParams, log2BinomialTailAtLeast, validateSecAggParams } from './params.ts';

/** P(Bin(k, p) >= t) summed directly with exact binomial coefficients. */
function tail(k: number, p: number, t: number): number {
  let s = 0;
  for (let i = t; i <= k; i++) {
    let c = 1;
    for (let j = 1; j <= i; j++) c = (c * (k - i + j)) / j;
    s += c * p ** i * (1 - p) ** (k - i);
  }
  return s;
}

describe('choosing k and t', () => {
  it('binomial tails match direct summation', () => {
    for (const [k, p, t] of [
      [10, 0.1, 3],
      [44, 0.1, 26],
      [40, 0.3, 25],
      [20, 0.5, 20],
    ] as const) {
      expect(log2BinomialTailAtLeast(k, p, t)).toBeCloseTo(Math.log2(tail(k, p, t)), 6);
    }
  });

  for (const n of [100, 500, 5000]) {
    it(`n = ${n}: sparse k with t > k/2 meeting the security, connectivity and correctness targets`, () => {
      const { neighbours: k, threshold: t, complete } = chooseSecAggParams(n);
      expect(complete).toBe(false);
      expect(k % 2).toBe(0);
      expect(2 * t).toBeGreaterThan(k);
      expect(tail(k, 0.1, t)).toBeLessThanOrEqual(2 ** -40 / n); // colluding neighbours
      expect(n * 0.2 ** (k / 2)).toBeLessThanOrEqual(2 ** -40); // connectivity
      expect(tail(k, 0.1, k - t + 1)).toBeLessThanOrEqual(2 ** -20); // enough survivors
      // k is the smallest even degree that works.
      const smaller = k - 2;
      const ok = (kk: number) => {
        if (n * 0.2 ** (kk / 2) > 2 ** -40) return false;
        for (let tt = kk / 2 + 1; tt <= kk; tt++) if (tail(kk, 0.1, tt) <= 2 ** -40 / n && tail(kk, 0.1, kk - tt + 1) <= 2 ** -20) return true;
        return false;
      };
      expect(ok(smaller)).toBe(false);
    });
  }

  it('small cohorts get the complete graph with t just above k/2', () => {
    expect(chooseSecAggParams(10)).toEqual({ neighbours: 9, threshold: 5, complete: true });
    expect(chooseSecAggParams(2)).toEqual({ neighbours: 1, threshold: 1, complete: true });
  });

  it('a higher dropout rate needs a larger k', () => {
    expect(chooseSecAggParams(500, { dropoutRate: 0.3 }).neighbours).toBeGreaterThan(chooseSecAggParams(500).neighbours);
  });

  it('refuses t <= k/2, t > k and odd sparse k', () => {
    expect(() => validateSecAggParams(100, 10, 5)).toThrow(/must exceed k\/2=5/);
    expect(() => validateSecAggParams(100, 10, 11)).toThrow(/\[1, k=10\]/);
    expect(() => validateSecAggParams(100, 11, 8)).toThrow(/even k/);
    expect(() => validateSecAggParams(1, 1, 1)).toThrow(/at least 2 clients/);
    expect(() => validateSecAggParams(10, 20, 5)).not.toThrow(); // k capped at n − 1 = 9
  });
});
