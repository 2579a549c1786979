import { describe, expect, it } from 'vitest';
import { defaultMaxShortfall, poissonShortfallProbability, selectionDelta } from './poissonSelection.ts';

/** Brute force over all 2^N inclusion patterns of N parties. */
function bruteForce(parties: number, q: number, m: number): number {
  let short = 0;
  for (let mask = 0; mask < 1 << parties; mask++) {
    let drawn = 0;
    let p = 1;
    for (let i = 0; i < parties; i++) {
      if (mask & (1 << i)) {
        drawn++;
        p *= q;
      } else p *= 1 - q;
    }
    if (drawn < m) short += p;
  }
  return short;
}

describe('poissonShortfallProbability', () => {
  it('equals enumeration over every sample of parties', () => {
    const cases: [number, number, number][] = [
      [8, 0.3, 3],
      [10, 0.25, 5],
      [3, 0.9, 3],
      [12, 0.1, 4],
    ];
    for (const [n, q, m] of cases) expect(poissonShortfallProbability(n, q, m)).toBeCloseTo(bruteForce(n, q, m), 14);
  });

  it('is the binomial tail, precise far into the tail', () => {
    // P(Bin(N, q) < m) summed from the pmf, in logs.
    const N = 2000;
    const q = 0.05;
    const m = 40; // mean 100: the tail is about 1e-11
    let logC = 0;
    let tail = 0;
    for (let j = 0; j < m; j++) {
      if (j > 0) logC += Math.log((N - j + 1) / j);
      tail += Math.exp(logC + j * Math.log(q) + (N - j) * Math.log1p(-q));
    }
    const got = poissonShortfallProbability(N, q, m);
    expect(tail).toBeLessThan(1e-9);
    expect(Math.abs(got - tail) / tail).toBeLessThan(1e-6);
  });

  it('is 1 when too few parties could ever be drawn, and rejects bad input', () => {
    expect(poissonShortfallProbability(1, 0.5, 2)).toBe(1);
    expect(poissonShortfallProbability(2, 0.5, 3)).toBe(1);
    expect(() => poissonShortfallProbability(1, 1.5, 1)).toThrow(/sample rate/);
    expect(() => poissonShortfallProbability(-1, 0.5, 1)).toThrow(/non-negative integer/);
  });

  it('turns the summed shortfall into the extra δ (1 + e^ε)·Σp', () => {
    expect(selectionDelta(1e-9, Math.log(3))).toBeCloseTo(1e-9 * (1 + 3), 20);
    expect(selectionDelta(0.5, 5)).toBe(1);
  });

  it('defaults the shortfall limit so that the redraws add at most δ over the run', () => {
    const limit = defaultMaxShortfall(1e-5, 50, 4);
    expect(selectionDelta(50 * limit, 4)).toBeCloseTo(1e-5, 18);
    expect(defaultMaxShortfall(1e-5, 50, null)).toBeCloseTo(1e-5 / 50, 20);
  });
});
