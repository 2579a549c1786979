/**
 * A dataset split as stored: labels and the examples' raw values (8-bit pixels, 16-bit token ids, float32
 * columns), optionally who wrote each example. Shards are cut from it without a float copy; the model's input
 * comes from it through the task's preprocessing.
 */
import { encodeShard, type Dataset, type ShardValues } from './data.ts';
import { inputSize } from './input.ts';
import { preprocess, type TaskDescription } from './registry.ts';

export interface StoredSplit {
  readonly n: number;
  readonly labels: Uint8Array;
  /** n × inputSize values, row-major. */
  readonly values: ShardValues;
  /** Author id of each example, for natural partitions (TaskData.authors). */
  readonly authors?: Uint32Array;
}

function gather(values: ShardValues, indices: ArrayLike<number>, features: number): ShardValues {
  const out = new (values.constructor as { new (n: number): ShardValues })(indices.length * features);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    out.set(values.subarray(j * features, (j + 1) * features), i * features);
  }
  return out;
}

/** The examples at `indices` (all when omitted) of a stored split. */
export function storedSubset(d: TaskDescription, split: StoredSplit, indices: ArrayLike<number>): StoredSplit {
  const labels = Uint8Array.from({ length: indices.length }, (_, i) => split.labels[indices[i]!]!);
  return { n: indices.length, labels, values: gather(split.values, indices, inputSize(d.input)) };
}

/** A stored split as the model's input (the task's preprocessing applied). */
export function datasetOf(d: TaskDescription, split: StoredSplit): Dataset {
  return { n: split.n, features: inputSize(d.input), classes: d.classes.length, x: preprocess(d, split.values), labels: split.labels };
}

/** A stored split in the binary shard format. */
export function shardOf(d: TaskDescription, split: StoredSplit): Uint8Array {
  return encodeShard(split.labels, split.values, inputSize(d.input), d.classes.length);
}
