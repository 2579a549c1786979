import { describe, expect, it } from 'vitest';
import { checkCountStddev, ddgTau } from './accountant/ddg.ts';
import { COUNT_GRID_STDDEV, clipCountFraction, clipCountGrid, countStddevFor, decodeClipCount, defaultCountStddev, encodeClipCount } from './clipCount.ts';
import { DdpParameterError } from './errors.ts';
import { chachaRandomWords } from './random.ts';
import { chiSquareAgainstPmf, chiSquareCritical, discreteGaussianPmf, histogram } from './testStats.ts';

function seeded(tag: number) {
  const seed = new Uint8Array(32);
  seed[0] = tag;
  seed[31] = 0xc1;
  return chachaRandomWords(seed);
}

describe('encodeClipCount / decodeClipCount (Andrew et al. 2021, Alg. 1, on the DDG grid)', () => {
  for (const belowClip of [true, false]) {
    it(`round-trips (2b − 1) + N_Z(0, s²) mod 2^B for b = ${belowClip}: mean ±1, variance s², discrete Gaussian shape`, () => {
      const s = 3;
      const bits = 6; // modulus 64: every negative value wraps, and ±8s still centres without ambiguity
      const rw = seeded(belowClip ? 1 : 2);
      const draws = 20_000;
      const values: number[] = [];
      for (let i = 0; i < draws; i++) {
        const u = encodeClipCount(belowClip, { countStddev: s, bits }, rw);
        expect(Number.isInteger(u) && u >= 0 && u < 2 ** bits).toBe(true);
        values.push(decodeClipCount(u, bits));
      }
      const sign = belowClip ? 1 : -1;
      const exact = discreteGaussianPmf(s * s); // N_Z's exact variance (a hair below s² at small s)
      const mean = values.reduce((a, v) => a + v, 0) / draws;
      const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (draws - 1);
      // 5 standard errors: of the mean s/√N, of the sample variance ≈ √2·s²/√N.
      expect(Math.abs(mean - sign)).toBeLessThan((5 * s) / Math.sqrt(draws));
      expect(Math.abs(variance - exact.variance)).toBeLessThan((5 * Math.SQRT2 * exact.variance) / Math.sqrt(draws));
      expect(Math.abs(exact.variance - s * s)).toBeLessThan(1e-6);
      // The noise itself, decoded value minus the sign, follows N_Z(0, s²).
      const noise = histogram(values.map((v) => v - sign));
      const { stat, df } = chiSquareAgainstPmf(noise, draws, exact.pmf, -exact.limit, exact.limit);
      expect(stat).toBeLessThan(chiSquareCritical(df));
    });
  }

  it('without noise (countStddev 0, noiseless runs only) encodes exactly ±1 mod 2^B, up to 32 bits', () => {
    for (const bits of [1, 2, 8, 16, 31, 32]) {
      const m = 2 ** bits;
      expect(encodeClipCount(true, { countStddev: 0, bits })).toBe(1 % m);
      expect(encodeClipCount(false, { countStddev: 0, bits })).toBe(m - 1);
      if (bits >= 2) {
        expect(decodeClipCount(encodeClipCount(true, { countStddev: 0, bits }), bits)).toBe(1);
        expect(decodeClipCount(encodeClipCount(false, { countStddev: 0, bits }), bits)).toBe(-1);
      }
    }
  });

  it('centres a sum as decodeDdg does, into [−2^(B−1), 2^(B−1)), reducing any safe integer first', () => {
    for (const bits of [4, 12, 32]) {
      const m = 2 ** bits;
      expect(decodeClipCount(m / 2 - 1, bits)).toBe(m / 2 - 1);
      expect(decodeClipCount(m / 2, bits)).toBe(-m / 2);
      expect(decodeClipCount(m - 1, bits)).toBe(-1);
      expect(decodeClipCount(0, bits)).toBe(0);
      expect(decodeClipCount(-3, bits)).toBe(-3);
      expect(decodeClipCount(5 * m + 5, bits)).toBe(5);
    }
    expect(() => decodeClipCount(1.5, 8)).toThrow(DdpParameterError);
    expect(() => decodeClipCount(3, 33)).toThrow(/bits/);
  });

  it('a negative sum over many parties wraps mod 2^B and decodes right', () => {
    const bits = 8;
    const m = 2 ** bits;
    const n = 50;
    let sum = 0;
    for (let i = 0; i < n; i++) sum = (sum + encodeClipCount(false, { countStddev: 0, bits })) % m;
    expect(sum).toBe(m - n);
    expect(decodeClipCount(sum, bits)).toBe(-n);
    expect(clipCountFraction(decodeClipCount(sum, bits), n)).toBe(0);
  });

  it('the modular sum over n parties gives the clipped fraction within a few noise standard deviations', () => {
    const bits = 16;
    const m = 2 ** bits;
    const n = 200;
    const below = 60; // true fraction 0.3
    const s = defaultCountStddev(n, n);
    const rw = seeded(3);
    let noisy = 0;
    let exact = 0;
    for (let i = 0; i < n; i++) {
      noisy = (noisy + encodeClipCount(i < below, { countStddev: s, bits }, rw)) % m;
      exact = (exact + encodeClipCount(i < below, { countStddev: 0, bits })) % m;
    }
    const truth = below / n;
    expect(clipCountFraction(decodeClipCount(exact, bits), n)).toBeCloseTo(truth, 14);
    // S's noise has stddev √n·s, so b̄ = S/(2n) + 1/2 has stddev √n·s/(2n).
    const fractionStddev = (Math.sqrt(n) * s) / (2 * n);
    const estimate = clipCountFraction(decodeClipCount(noisy, bits), n);
    expect(Math.abs(estimate - truth)).toBeLessThan(5 * fractionStddev);
  });

  it('clipCountFraction is S/(2·divisor) + 1/2, unclamped', () => {
    expect(clipCountFraction(0, 10)).toBe(0.5);
    expect(clipCountFraction(10, 10)).toBe(1);
    expect(clipCountFraction(-10, 10)).toBe(0);
    expect(clipCountFraction(14, 10)).toBeCloseTo(14 / 20 + 0.5, 15);
    expect(clipCountFraction(-13, 10)).toBeLessThan(0);
    expect(() => clipCountFraction(1, 0)).toThrow(/divisor/);
  });

  it('refuses a countStddev that is neither 0 nor at least 1/2, and bad bits', () => {
    for (const bad of [0.3, -1, Number.NaN, Infinity]) {
      expect(() => encodeClipCount(true, { countStddev: bad, bits: 16 })).toThrow(/countStddev/);
    }
    expect(() => encodeClipCount(true, { countStddev: 1, bits: 0 })).toThrow(/bits/);
    expect(() => checkCountStddev(0)).toThrow(/countStddev/); // the accountant refuses a noiseless count
  });
});

describe('defaultCountStddev (Andrew et al. 2021: σ_b = m/20) and the count grid', () => {
  it('is m/(10·√n_min) in sign units, so that the noise on Σb, √n_min·s/2, is m/20', () => {
    for (const [m, nMin] of [
      [1000, 500],
      [100, 100],
      [10, 10],
      [400, 50],
    ] as const) {
      const s = defaultCountStddev(m, nMin);
      expect(s).toBeCloseTo(m / (10 * Math.sqrt(nMin)), 12);
      expect((Math.sqrt(nMin) * s) / 2).toBeCloseTo(m / 20, 10);
      expect(countStddevFor(m / 20, nMin)).toBeCloseTo(s, 12);
    }
    expect(() => defaultCountStddev(0, 1)).toThrow(/clients/);
    expect(() => defaultCountStddev(10, 0)).toThrow(/minClients/);
  });

  it('scales the sign by h = ⌈2/s⌉ so the grid noise g = s·h is at least 2, where the DDG bound loses nothing to τ', () => {
    for (const s of [0.1, 0.3162, 0.5, 1.9, 2, 7.5]) {
      const { countScale: h, countStddev: g } = clipCountGrid(s);
      expect(h).toBe(Math.max(1, Math.ceil(2 / s)));
      expect(g).toBeCloseTo(s * h, 12);
      expect(g).toBeGreaterThanOrEqual(COUNT_GRID_STDDEV - 1e-12);
      // Same l = h/(√n·g) as an unscaled count with noise s, and a τ that no longer matters.
      expect(ddgTau(g, 1000)).toBeLessThan(1e-12);
    }
    // At g = 1/2 unscaled, τ alone would charge more than a whole round's budget.
    expect(ddgTau(0.5, 16)).toBeGreaterThan(1);
    expect(() => clipCountGrid(0)).toThrow(/positive/);
  });

  it('a scaled count decodes to the fraction: S = h·Σ(2b − 1) + noise, b̄ = S/(2h·m̃) + 1/2', () => {
    const bits = 16;
    const m = 2 ** bits;
    const n = 50;
    const { countScale: h, countStddev: g } = clipCountGrid(defaultCountStddev(n, n));
    const rw = seeded(9);
    let exact = 0;
    let noisy = 0;
    for (let i = 0; i < n; i++) {
      exact = (exact + encodeClipCount(i < 20, { countStddev: 0, countScale: h, bits })) % m;
      noisy = (noisy + encodeClipCount(i < 20, { countStddev: g, countScale: h, bits }, rw)) % m;
    }
    expect(decodeClipCount(exact, bits)).toBe(h * (20 - 30));
    expect(clipCountFraction(decodeClipCount(exact, bits), n, h)).toBeCloseTo(0.4, 14);
    // σ_b = n/20 on Σb: b̄'s stddev is 1/20.
    expect(Math.abs(clipCountFraction(decodeClipCount(noisy, bits), n, h) - 0.4)).toBeLessThan(5 / 20);
    expect(() => encodeClipCount(true, { countStddev: g, countScale: 1.5, bits })).toThrow(/countScale/);
  });
});
