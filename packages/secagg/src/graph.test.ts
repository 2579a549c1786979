import { describe, expect, it } from 'vitest';
import { neighbourGraph, seededPermutation } from './graph.ts';

const seed = (b: number) => new Uint8Array(32).fill(b);

describe('neighbour graph', () => {
  it('is k-regular and symmetric, the same for every party with the seed', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => 10 + i * 3);
    const g = await neighbourGraph(ids, 12, seed(1));
    const again = await neighbourGraph([...ids].reverse(), 12, seed(1));
    for (const id of ids) {
      const nb = g.get(id)!;
      expect(nb).toHaveLength(12);
      expect(nb).not.toContain(id);
      for (const v of nb) expect(g.get(v)).toContain(id);
      expect(again.get(id)).toEqual(nb);
    }
    const other = await neighbourGraph(ids, 12, seed(2));
    expect(ids.some((id) => other.get(id)!.join() !== g.get(id)!.join())).toBe(true);
  });

  it('is the complete graph when k >= n − 1', async () => {
    const g = await neighbourGraph([5, 1, 9, 3], 7, seed(0));
    expect(g.get(1)).toEqual([3, 5, 9]);
    expect(g.get(9)).toEqual([1, 3, 5]);
  });

  it('refuses an odd k for a sparse graph and bad ids', async () => {
    await expect(neighbourGraph([1, 2, 3, 4, 5, 6], 3, seed(0))).rejects.toThrow(/even k/);
    await expect(neighbourGraph([1, 1, 2], 2, seed(0))).rejects.toThrow(/duplicate/);
    await expect(neighbourGraph([0, 1, 2], 2, seed(0))).rejects.toThrow(/client id/);
  });

  it('draws permutations uniformly (position of one element over many seeds)', async () => {
    const n = 5;
    const counts = new Array<number>(n).fill(0);
    const trials = 1000;
    for (let s = 0; s < trials; s++) {
      const sd = new Uint8Array(32);
      new DataView(sd.buffer).setUint32(0, s);
      const perm = await seededPermutation([1, 2, 3, 4, 5], sd);
      expect([...perm].sort()).toEqual([1, 2, 3, 4, 5]);
      counts[perm.indexOf(1)]!++;
    }
    const e = trials / n;
    const chi = counts.reduce((acc, c) => acc + (c - e) ** 2 / e, 0);
    expect(chi).toBeLessThan(25); // χ²(4) far tail
  });
});
