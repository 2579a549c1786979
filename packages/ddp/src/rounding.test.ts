import { describe, expect, it } from 'vitest';
import { RoundingBoundError } from './errors.ts';
import { chachaRandomWords } from './random.ts';
import { conditionalRoundInto, inflatedL2Bound, l1BoundFromL2 } from './rounding.ts';

const seeded = (tag: number) => {
  const s = new Uint8Array(32);
  s[5] = tag;
  return chachaRandomWords(s);
};

describe('inflatedL2Bound (Δ₂)', () => {
  it('is a + √d for β = 0 and the smaller of the two bounds otherwise', () => {
    expect(inflatedL2Bound(1000, 0, 1024)).toBe(1032);
    for (const [a, beta, d] of [
      [1000, Math.exp(-0.5), 1024],
      [5, 0.1, 1 << 16],
      [1e4, 1e-6, 64],
    ] as const) {
      const second = Math.sqrt(a * a + d / 4 + Math.sqrt(2 * Math.log(1 / beta)) * (a + Math.sqrt(d) / 2));
      expect(inflatedL2Bound(a, beta, d)).toBeCloseTo(Math.min(a + Math.sqrt(d), second), 9);
    }
  });

  it('l1 bound is Δ₂·min(√d, Δ₂)', () => {
    expect(l1BoundFromL2(1032, 1024)).toBe(1032 * 32);
    expect(l1BoundFromL2(3, 1024)).toBe(9);
  });
});

describe('conditionalRoundInto', () => {
  it('rounds to a neighbouring integer, never exceeds the β = 0 bound and wraps mod 2^B', () => {
    const x = Float64Array.from({ length: 512 }, (_, i) => (i % 2 ? -1 : 1) * (i / 7));
    const out = new Uint32Array(512);
    const norm = Math.sqrt(x.reduce((s, v) => s + v * v, 0));
    const tries = conditionalRoundInto(x, out, 8, inflatedL2Bound(norm, 0, 512), seeded(1), 1);
    expect(tries).toBe(1);
    for (let i = 0; i < x.length; i++) {
      const r = out[i]! >= 128 ? out[i]! - 256 : out[i]!;
      expect(r === Math.floor(x[i]!) || r === Math.ceil(x[i]!)).toBe(true);
    }
  });

  it('is unbiased: the mean of many roundings approaches x', () => {
    const x = Float64Array.from([0.1, 0.5, 0.9, -0.25, 3.75, -7.125]);
    const out = new Uint32Array(x.length);
    const sums = new Float64Array(x.length);
    const n = 40_000;
    const rw = seeded(2);
    for (let t = 0; t < n; t++) {
      conditionalRoundInto(x, out, 16, 1e9, rw, 1);
      for (let i = 0; i < x.length; i++) sums[i]! += out[i]! >= 32768 ? out[i]! - 65536 : out[i]!;
    }
    for (let i = 0; i < x.length; i++) {
      const frac = x[i]! - Math.floor(x[i]!);
      const se = Math.sqrt((frac * (1 - frac)) / n);
      expect(Math.abs(sums[i]! / n - x[i]!)).toBeLessThanOrEqual(5 * se + 1e-12);
    }
  });

  it('redraws until the norm bound holds and errors clearly when it cannot', () => {
    // All coordinates at 0.5: the rounded squared norm is the number rounded up, Binomial(64, 1/2).
    const x = new Float64Array(64).fill(0.5);
    const out = new Uint32Array(64);
    const rw = seeded(3);
    let retried = 0;
    for (let t = 0; t < 200; t++) {
      const tries = conditionalRoundInto(x, out, 16, Math.sqrt(30), rw, 1000);
      if (tries > 1) retried++;
      const ones = out.reduce((s, v) => s + v, 0);
      expect(ones).toBeLessThanOrEqual(30);
    }
    expect(retried).toBeGreaterThan(0);
    expect(() => conditionalRoundInto(x, out, 16, 1, rw, 5)).toThrow(RoundingBoundError);
  });
});
