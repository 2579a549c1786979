import { accountDpsgd, calibrateDdg } from '@hushfl/ddp';
import { describe, expect, it } from 'vitest';
import { centralNoiseMultiplier, ddgNoiseGap, zhuWangNoiseMultiplier } from './noiseGap.ts';

/** Zhu & Wang (2019) Theorem 5 for a Gaussian's RDP ε(l) = l/(2z²), at one integer order, written out directly. */
function zhuWangGaussianRdp(alpha: number, q: number, z: number): number {
  const eps = (l: number) => l / (2 * z * z);
  const choose = (n: number, k: number) => {
    let c = 1;
    for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
    return c;
  };
  let s = (1 - q) ** (alpha - 1) * (alpha * q - q + 1) + choose(alpha, 2) * q ** 2 * (1 - q) ** (alpha - 2) * Math.exp(eps(2));
  for (let l = 3; l <= alpha; l++) s += 3 * choose(alpha, l) * (1 - q) ** (alpha - l) * q ** l * Math.exp((l - 1) * eps(l));
  return Math.min(Math.log(s) / (alpha - 1), eps(alpha));
}

/** CKS 2020 Prop. 12 over orders 2..40 (an upper bound on the accountant's, which minimises over more orders). */
function epsilonOverOrders(rdpAt: (alpha: number) => number, rounds: number, delta: number): number {
  let best = Infinity;
  for (let a = 2; a <= 40; a++) best = Math.min(best, rounds * rdpAt(a) + Math.log1p(-1 / a) - (Math.log(delta) + Math.log(a)) / (a - 1));
  return best;
}

describe('DDG noise against central DP', () => {
  it('the general subsampling bound asks more noise of a Gaussian than its exact RDP, and the same without sampling', () => {
    for (const [eps, q, rounds] of [
      [2, 0.1, 30],
      [8, 0.1, 30],
      [4, 0.02, 100],
    ] as const) {
      const exact = centralNoiseMultiplier(eps, 1e-5, q, rounds);
      const general = zhuWangNoiseMultiplier(eps, 1e-5, q, rounds);
      expect(general).toBeGreaterThan(exact);
      // Smallest: the bound written out here misses the target at 1 % less noise (it takes fewer orders, so it
      // can only be larger than the accountant's).
      expect(epsilonOverOrders((a) => zhuWangGaussianRdp(a, q, general * 0.99), rounds, 1e-5)).toBeGreaterThan(eps);
    }
    const unsampled = accountDpsgd({ sampleRate: 1, noiseMultiplier: 3, steps: 10, delta: 1e-5 }).epsilon;
    expect(zhuWangNoiseMultiplier(unsampled, 1e-5, 1, 10)).toBeCloseTo(centralNoiseMultiplier(unsampled, 1e-5, 1, 10), 4);
  });

  it('splits the ratio into n_min, the sampling bound and rounding: at 20 bits rounding is nothing, at 11 bits it shows', () => {
    const base = { epsilon: 2, delta: 1e-5, sampleRate: 0.1, population: 1000, minClients: 56, rounds: 30, clip: 0.25 };
    const z = centralNoiseMultiplier(2, 1e-5, 0.1, 30);
    const gapAt = (bits: number, epsilon = 2) => {
      const cal = calibrateDdg({ ...base, epsilon, clients: 100, dim: 11_738, bits });
      return ddgNoiseGap({ ...base, epsilon, centralNoiseMultiplier: centralNoiseMultiplier(epsilon, 1e-5, 0.1, 30), localStddev: cal.localStddev });
    };
    const wide = gapAt(20);
    expect(wide.minClients).toBeCloseTo(Math.sqrt(100 / 56), 12);
    expect(wide.samplingBound).toBeCloseTo(zhuWangNoiseMultiplier(2, 1e-5, 0.1, 30) / z, 12);
    expect(wide.total).toBeCloseTo(wide.minClients * wide.samplingBound * wide.rounding, 12);
    // The DDG accountant at a negligible grid step is the Gaussian under the general bound (τ ≈ 0, Δ₂ ≈ clip).
    expect(wide.rounding).toBeGreaterThanOrEqual(1);
    expect(wide.rounding).toBeLessThan(1.005);
    const narrow = gapAt(11);
    expect(narrow.rounding).toBeGreaterThan(1.05);
    expect(narrow.samplingBound).toBe(wide.samplingBound);
  });
});
