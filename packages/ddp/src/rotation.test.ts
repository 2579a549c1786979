import { describe, expect, it } from 'vitest';
import { randomSeed } from './random.ts';
import { applyRademacherSigns, rotateInPlace, unrotateInPlace } from './rotation.ts';

describe('random rotation H·D', () => {
  it('is inverted exactly (to float precision) by unrotate with the same seed', () => {
    const seed = randomSeed();
    const x = Float64Array.from({ length: 4096 }, (_, i) => Math.sin(i) * 3);
    const y = x.slice();
    rotateInPlace(y, seed);
    unrotateInPlace(y, seed);
    for (let i = 0; i < x.length; i++) expect(y[i]).toBeCloseTo(x[i]!, 11);
  });

  it('derives the same signs from the same seed and different signs from another', () => {
    const seed = randomSeed();
    const a = new Float64Array(256).fill(1);
    const b = new Float64Array(256).fill(1);
    const c = new Float64Array(256).fill(1);
    applyRademacherSigns(a, seed);
    applyRademacherSigns(b, seed.slice());
    applyRademacherSigns(c, randomSeed());
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    // Roughly half the signs are negative (5 standard errors).
    const neg = a.filter((v) => v < 0).length;
    expect(Math.abs(neg - 128)).toBeLessThan(5 * Math.sqrt(64));
  });

  it('flattens a spike: every coordinate of H·D·e₁ has magnitude 1/√d', () => {
    const d = 1024;
    const x = new Float64Array(d);
    x[0] = 1;
    rotateInPlace(x, randomSeed());
    for (const v of x) expect(Math.abs(v)).toBeCloseTo(1 / Math.sqrt(d), 12);
  });
});
