import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeModelWeights, encodeModelWeights, f32FromFloat16Bytes, float16Bytes } from './modelEncoding.ts';

/** Every finite binary16 value in increasing order, from its definition (sign, 5-bit exponent, 10-bit fraction). */
function allHalves(): number[] {
  const out: number[] = [];
  for (let e = 0; e < 31; e++) for (let m = 0; m < 1024; m++) out.push(e === 0 ? m * 2 ** -24 : (1024 + m) * 2 ** (e - 25));
  return [
    ...out
      .slice(1)
      .map((v) => -v)
      .reverse(),
    ...out,
  ];
}

/** The nearest binary16 to x, ties to the even fraction (the reference the codec must match). */
function nearestHalf(x: number, halves: number[]): number {
  let lo = 0;
  let hi = halves.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (halves[mid]! <= x) lo = mid;
    else hi = mid;
  }
  const a = halves[lo]!;
  const b = halves[hi]!;
  if (x - a < b - x) return a;
  if (b - x < x - a) return b;
  // A tie: the even fraction is the one whose bit pattern ends in 0.
  return (float16Bytes(new Float32Array([a]))![0]! & 1) === 0 ? a : b;
}

describe('float16 model encoding', () => {
  const halves = allHalves();

  it('holds every binary16 value exactly (decode ∘ encode is the identity on them)', () => {
    const w = Float32Array.from(halves);
    const back = f32FromFloat16Bytes(float16Bytes(w)!);
    for (let i = 0; i < w.length; i++) if (back[i] !== w[i]) throw new Error(`${w[i]} came back as ${back[i]}`);
    expect(back.length).toBe(halves.length);
  });

  it('rounds to nearest, ties to even, through the subnormals, against a reference search', () => {
    const xs: number[] = [];
    // Every midpoint between neighbours (the ties) and points just either side of it.
    for (let i = 0; i + 1 < halves.length; i += 7) {
      const mid = Math.fround((halves[i]! + halves[i + 1]!) / 2);
      xs.push(mid, Math.fround(mid * (1 + 2 ** -20)), Math.fround(mid * (1 - 2 ** -20)));
    }
    // Random float32s in ±2^−26..2^16 (log-uniform) and tiny ones that round to 0 or the smallest subnormal.
    for (let i = 0; i < 20000; i++) xs.push(Math.fround((randomInt(2) ? 1 : -1) * 2 ** (randomInt(-27, 15) + randomInt(0, 1 << 20) / (1 << 20))));
    xs.push(2 ** -25, Math.fround(2 ** -25 * 1.0001), 2 ** -26, 0, -0, 65504, -65504, Math.fround(65519));
    const w = Float32Array.from(xs.filter((x) => Math.abs(x) <= 65504));
    const back = f32FromFloat16Bytes(float16Bytes(w)!);
    for (let i = 0; i < w.length; i++) {
      const want = nearestHalf(w[i]!, halves);
      if (back[i] !== want && !(want === 0 && back[i] === 0)) throw new Error(`${w[i]} → ${back[i]}, expected ${want}`);
    }
  });

  it('keeps relative error ≤ 2^−11 in the normal range', () => {
    const w = Float32Array.from({ length: 5000 }, () => (randomInt(-1e6, 1e6) / 1e6) * 0.3);
    const back = f32FromFloat16Bytes(float16Bytes(w)!);
    let max = 0;
    for (let i = 0; i < w.length; i++) {
      const err = Math.abs(back[i]! - w[i]!);
      max = Math.max(max, err);
      if (Math.abs(w[i]!) >= 2 ** -14) expect(err / Math.abs(w[i]!)).toBeLessThanOrEqual(2 ** -11);
    }
    expect(max).toBeGreaterThan(0);
  });

  it('falls back to float32 for a weight beyond ±65 504 or not finite, and decodes either', () => {
    const fine = Float32Array.from([0.5, -1.25, 3e-3]);
    const half = encodeModelWeights(fine, 'float16');
    expect(half.encoding).toBe('float16');
    expect(half.weights.length).toBe(6);
    expect(Array.from(decodeModelWeights(half))).toEqual([0.5, -1.25, Math.fround(float16Round(3e-3))]);
    for (const bad of [70000, Number.NaN, Number.POSITIVE_INFINITY]) {
      const w = Float32Array.from([0.5, bad]);
      expect(float16Bytes(w)).toBeNull();
      const sent = encodeModelWeights(w, 'float16');
      expect(sent.encoding).toBe('float32');
      expect(sent.weights.length).toBe(8);
      expect(Object.is(decodeModelWeights(sent)[1], Math.fround(bad))).toBe(true);
    }
    expect(encodeModelWeights(fine, 'float32').weights.length).toBe(12);
    expect(Array.from(decodeModelWeights({ weights: encodeModelWeights(fine, 'float32').weights }))).toEqual(Array.from(fine));
    expect(() => f32FromFloat16Bytes(new Uint8Array(3))).toThrow(/even number of bytes/);
    // The decoded weights are the caller's own: training on them leaves the message's bytes as they came.
    const message = encodeModelWeights(fine, 'float32');
    const own = decodeModelWeights(message);
    own[0] = 99;
    expect(decodeModelWeights(message)[0]).toBe(0.5);
  });

  function float16Round(x: number): number {
    return nearestHalf(Math.fround(x), halves);
  }
});
