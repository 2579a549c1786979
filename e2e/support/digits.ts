/** Real MNIST training digits for the own-data browser tests: picks by class, and Node clients' local shards. */
import { MNIST_TASK, shardOf, type StoredSplit, storedSubset } from '@hushfl/tasks';

/** Indices of the first `perClass` training digits of each class from `from` on, class by class. */
export function firstOfEachClass(train: StoredSplit, perClass: number, from = 0): number[] {
  const out: number[][] = MNIST_TASK.classes.map(() => []);
  for (let i = from; i < train.n && out.some((c) => c.length < perClass); i++) {
    const c = out[train.labels[i]!]!;
    if (c.length < perClass) c.push(i);
  }
  return out.flat();
}

/** A Node client's own shard (`localShards`): `perClass` digits of each class from `from` on. */
export function ownShard(train: StoredSplit, perClass: number, from: number): Uint8Array[] {
  return [shardOf(MNIST_TASK, storedSubset(MNIST_TASK, train, firstOfEachClass(train, perClass, from)))];
}
