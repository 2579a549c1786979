import { describe, expect, it } from 'vitest';
import { fwhtInPlace, nextPowerOfTwo } from './hadamard.ts';
import { chachaRandomWords } from './random.ts';

/** The Sylvester Hadamard matrix entry: H[i][j] = (−1)^popcount(i & j). */
function hadamardEntry(i: number, j: number): number {
  let v = i & j;
  let parity = 0;
  while (v) {
    parity ^= v & 1;
    v >>>= 1;
  }
  return parity ? -1 : 1;
}

function randomVector(n: number, tag: number): Float64Array {
  const seed = new Uint8Array(32);
  seed[0] = tag;
  const rw = chachaRandomWords(seed);
  return Float64Array.from({ length: n }, () => rw.next() / 2 ** 31 - 1);
}

describe('fwhtInPlace', () => {
  for (let log = 0; log <= 7; log++) {
    const n = 2 ** log;
    it(`equals the dense orthonormal Hadamard matrix for d = ${n}`, () => {
      const x = randomVector(n, log);
      const dense = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += hadamardEntry(i, j) * x[j]!;
        dense[i] = s / Math.sqrt(n);
      }
      fwhtInPlace(x);
      for (let i = 0; i < n; i++) expect(x[i]).toBeCloseTo(dense[i]!, 12);
    });
  }

  it('is self-inverse and preserves the L2 norm', () => {
    const x = randomVector(1 << 12, 99);
    const orig = x.slice();
    const norm = (v: Float64Array) => Math.sqrt(v.reduce((s, a) => s + a * a, 0));
    fwhtInPlace(x);
    expect(norm(x)).toBeCloseTo(norm(orig), 9);
    fwhtInPlace(x);
    for (let i = 0; i < x.length; i++) expect(x[i]).toBeCloseTo(orig[i]!, 12);
  });

  it('refuses lengths that are not powers of two', () => {
    expect(() => fwhtInPlace(new Float64Array(12))).toThrow(/power of two/);
  });

  it('nextPowerOfTwo pads as the encoder does', () => {
    expect([1, 2, 3, 1000, 1024, 1025].map(nextPowerOfTwo)).toEqual([1, 2, 4, 1024, 1024, 2048]);
    expect(() => nextPowerOfTwo(0)).toThrow();
  });
});
