import { randomBytes } from 'node:crypto';
import { maskSlice, type MaskTerm } from '@hushfl/secagg';
import { describe, expect, it } from 'vitest';
import { nodeMaskSliceSync } from './nodeMaskSlice.ts';
import { createSimdInt32Sum } from './simdInt32Sum.ts';

describe('nodeMaskSliceSync', () => {
  const terms: MaskTerm[] = Array.from({ length: 7 }, (_, i) => ({ seed: new Uint8Array(randomBytes(32)), sign: i % 3 === 0 ? -1 : 1 }));

  it('is bit-for-bit the portable maskSlice, at any start (mid-block too), length (several keystream chunks) and ring width', async () => {
    for (const bits of [12, 16, 32]) {
      for (const [start, count] of [
        [0, 1000],
        [3, 17],
        [4, 4096],
        [1_000_001, 999],
        // Across the 8 192-word keystream chunks, with the first chunk's skipped words and a short last chunk.
        [5, 20_000],
        [2, 8190],
        [1, 8192],
      ] as const) {
        const want = await maskSlice(terms, start, count, bits);
        for (const simd of [true, false]) {
          const got = nodeMaskSliceSync(terms, start, count, bits, simd);
          expect(Array.from(got), `bits=${bits} start=${start} count=${count} simd=${simd}`).toEqual(Array.from(want));
        }
      }
    }
  });

  it('runs on WebAssembly SIMD here (Node 20 has it)', () => {
    expect(createSimdInt32Sum()).not.toBeNull();
  });

  it('gives an all-zero slice for no masks and refuses a short seed', () => {
    expect(Array.from(nodeMaskSliceSync([], 5, 9, 16))).toEqual(new Array(9).fill(0));
    expect(() => nodeMaskSliceSync([{ seed: new Uint8Array(16), sign: 1 }], 0, 4, 16)).toThrow(/32 bytes/);
  });
});
