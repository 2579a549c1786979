import { describe, expect, it } from 'vitest';
import { checkDataset, decodeShard, encodeShard, subset } from './data.ts';
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

describe('typed shards (HFL2)', () => {
  it('carry 16-bit token ids and float32 columns as they are, aligned, and refuse what does not add up', () => {
    const ids = Uint16Array.from([0, 1, 4095, 65535, 7, 9]);
    const t = decodeShard(encodeShard(Uint8Array.from([0, 1, 1]), ids, 2, 2));
    expect([t.n, t.features, t.classes]).toEqual([3, 2, 2]);
    expect(Array.from(t.x)).toEqual([0, 1, 4095, 65535, 7, 9]);
    const cols = Float32Array.from([0.5, -2.25, 1e6]);
    const bytes = encodeShard(Uint8Array.from([1]), cols, 3, 4);
    expect(Array.from(decodeShard(bytes).x)).toEqual([0.5, -2.25, 1e6]);
    expect(() => decodeShard(bytes.slice(0, -1))).toThrow(/must be/);
    const nan = encodeShard(Uint8Array.from([1]), Float32Array.from([0, Number.NaN, 1]), 3, 4);
    expect(() => decodeShard(nan)).toThrow(/not finite/);
    const unknown = bytes.slice();
    new DataView(unknown.buffer).setUint32(16, 9, true);
    expect(() => decodeShard(unknown)).toThrow(/value type 9/);
    // A shard at an odd offset of a bigger buffer (as IndexedDB or a socket may hand it) decodes the same.
    const framed = new Uint8Array(bytes.length + 3);
    framed.set(bytes, 3);
    expect(Array.from(decodeShard(framed.subarray(3)).x)).toEqual([0.5, -2.25, 1e6]);
  });
});

describe('checkDataset', () => {
  const tokens = { input: { kind: 'tokens', vocabulary: 100, length: 3 }, classes: 2 } as const;
  it('ties a decoded shard to the task: row size, classes, token ids in [0, vocabulary)', () => {
    const ok = decodeShard(encodeShard(Uint8Array.from([0, 1]), Uint16Array.from([1, 2, 0, 99, 5, 0]), 3, 2));
    expect(() => checkDataset(tokens, ok)).not.toThrow();
    const far = decodeShard(encodeShard(Uint8Array.from([0, 1]), Uint16Array.from([1, 2, 0, 100, 5, 0]), 3, 2));
    expect(() => checkDataset(tokens, far)).toThrow('token 100 of example 1 is outside [0, 100)');
    expect(() => checkDataset({ ...tokens, classes: 3 }, ok)).toThrow('the data has 2 classes, the task has 3');
    const image = { input: { kind: 'image', height: 2, width: 2, channels: 1 }, classes: 2 } as const;
    expect(() => checkDataset(image, ok)).toThrow("the data has 3 values per example, the task's input takes 4");
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

  it('natural: whole authors per shard, shards as even as whole authors allow, too few authors refused', () => {
    // 60 authors writing 1..60 examples each (1830 in all).
    const authors = Uint32Array.from(Array.from({ length: 60 }, (_, a) => new Array(a + 1).fill(a)).flat());
    const few = Uint8Array.from(authors, (a) => a % 10);
    const shards = partitionIndices(few, 6, { kind: 'natural' }, 5, 1, authors);
    const owner = new Map<number, number>();
    shards.forEach((s, k) => {
      for (const i of s) {
        const a = authors[i]!;
        expect(owner.get(a) ?? k).toBe(k);
        owner.set(a, k);
      }
    });
    expect(owner.size).toBe(60);
    expect(shards.reduce((n, s) => n + s.length, 0)).toBe(authors.length);
    const sizes = shards.map((s) => s.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(60);
    expect(partitionIndices(few, 6, { kind: 'natural' }, 5, 1, authors)).toEqual(shards);
    expect(() => partitionIndices(few, 61, { kind: 'natural' }, 5, 1, authors)).toThrow('the data has 60 authors, too few for 61 shards');
    expect(() => partitionIndices(few, 6, { kind: 'natural' }, 5, 1)).toThrow(/author of every example/);
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
