import { inProcessMasks, type MaskTerm } from '@hushfl/secagg';
import { afterAll, describe, expect, it } from 'vitest';
import { MaskPool, sliceRanges } from './maskPool.ts';

const pool = new MaskPool(2, 0);
afterAll(() => pool.close());

function terms(n: number): MaskTerm[] {
  return Array.from({ length: n }, (_, i) => ({ seed: Uint8Array.from({ length: 32 }, (_, j) => (i * 31 + j * 7) & 255), sign: i % 3 === 0 ? -1 : 1 }));
}

describe('unmasking by coordinate ranges on worker threads', () => {
  it('splits [0, d) into block-aligned ranges that cover it once', () => {
    for (const [dim, parts] of [
      [10, 2],
      [1, 4],
      [100_003, 3],
      [8, 8],
    ] as const) {
      const r = sliceRanges(dim, parts);
      expect(r[0]!.start).toBe(0);
      for (let i = 1; i < r.length; i++) {
        expect(r[i]!.start).toBe(r[i - 1]!.start + r[i - 1]!.count);
        expect(r[i]!.start % 4).toBe(0);
      }
      expect(r.at(-1)!.start + r.at(-1)!.count).toBe(dim);
    }
  });

  it('gives the same sum as unmasking in process, at 16 and 32 bits, for an odd dimension', async () => {
    for (const bits of [16, 32]) {
      const dim = 10_007;
      const start = Uint32Array.from({ length: dim }, (_, i) => (i * 2654435761) % 2 ** bits);
      const inProcess = start.slice();
      await inProcessMasks.apply(inProcess, terms(9), bits);
      const threaded = start.slice();
      await pool.apply(threaded, terms(9), bits);
      expect(threaded).toEqual(inProcess);
      expect(threaded).not.toEqual(start);
    }
  });
});
