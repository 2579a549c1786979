import { describe, expect, it } from 'vitest';
import { decodeShard, encodeShard, subset } from './data.ts';
import { partitionIndices } from './partition.ts';

describe('shards', () => {
  it('round-trip through the binary shard format', () => {
    const labels = Uint8Array.from([3, 1, 4]);
    const pixels = Uint8Array.from({ length: 3 * 4 }, (_, i) => i * 20);
    const d = decodeShard(encodeShard(labels, pixels, 4, 10));
    expect(d.n).toBe(3);
    expect(Array.from(d.labels)).toEqual([3, 1, 4]);
    expect(d.x[5]).toBeCloseTo(100 / 255, 6);
    expect(Array.from(subset(d, [2]).labels)).toEqual([4]);
  });

  it('refuses truncated, foreign or out-of-range shards', () => {
    const good = encodeShard(Uint8Array.from([1, 2]), new Uint8Array(8), 4, 10);
    expect(() => decodeShard(good.slice(0, -1))).toThrow(/must be 26 bytes/);
    const bad = good.slice();
    bad[0] = 0;
    expect(() => decodeShard(bad)).toThrow(/magic/);
    expect(() => decodeShard(encodeShard(Uint8Array.from([12]), new Uint8Array(4), 4, 10))).toThrow(/label 12/);
  });
});

describe('partitions', () => {
  const labels = Uint8Array.from({ length: 2000 }, (_, i) => i % 10);

  it('IID: disjoint shards of equal size covering every example, reproducible from the seed', () => {
    const shards = partitionIndices(labels, 8, { kind: 'iid' }, 7);
    expect(shards.map((s) => s.length)).toEqual(new Array(8).fill(250));
    const all = new Set<number>();
    for (const s of shards) for (const i of s) all.add(i);
    expect(all.size).toBe(2000);
    expect(partitionIndices(labels, 8, { kind: 'iid' }, 7)).toEqual(shards);
    expect(partitionIndices(labels, 8, { kind: 'iid' }, 8)).not.toEqual(shards);
  });

  it('Dirichlet: small α concentrates each shard on few classes, large α approaches IID', () => {
    const classesPerShard = (alpha: number) => {
      const shards = partitionIndices(labels, 20, { kind: 'dirichlet', alpha }, 3);
      const all = new Set<number>();
      for (const s of shards) for (const i of s) all.add(i);
      expect(all.size).toBe(2000);
      // Classes that make up 90 % of each shard, averaged.
      return (
        shards.reduce((acc, s) => {
          const counts = new Array(10).fill(0);
          for (const i of s) counts[labels[i]!]++;
          counts.sort((a, b) => b - a);
          let k = 0;
          let covered = 0;
          while (covered < 0.9 * s.length) covered += counts[k++];
          return acc + k;
        }, 0) / shards.length
      );
    };
    const skewed = classesPerShard(0.1);
    const mild = classesPerShard(100);
    expect(skewed).toBeLessThan(4);
    expect(mild).toBeGreaterThan(7);
  });
});
