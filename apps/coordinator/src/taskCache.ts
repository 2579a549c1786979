/**
 * The coordinator's task data, built once per distinct task config: the demo shards and the held-out split of
 * a registry task (`data: demo`), or only the held-out split (`data: local`: clients bring their own), and
 * the key that tells clients whether the data they hold is the run's.
 */
import { createHash } from 'node:crypto';
import { loadTaskData } from '@hushfl/node';
import { dataSourceSchema, taskSchema, type RunConfig } from '@hushfl/protocol';
import { DemoTask, findTask } from '@hushfl/tasks';

/** Where a run's clients get data, and what they hold. */
export interface RunData {
  /** The task's demo data: its held-out split, and (data: demo) the shards served to clients. */
  readonly demo: DemoTask;
  readonly mode: RunConfig['data'];
  /**
   * Names the data a client trains on: the task and, for demo data, the partition it was cut by. A client that
   * joined for other data is told to rejoin (status.dataKey) before it may be selected.
   */
  readonly key: string;
}

/** The task clients train on while no run is active: the config's defaults (one source: the schema). */
const DEFAULT: Pick<RunConfig, 'task' | 'data'> = { task: taskSchema.parse({}), data: dataSourceSchema.parse(undefined) };

/** Task configs whose demo data is kept (the default's, the active run's, a few recent ones). */
const MAX_CACHED = 4;

export class TaskCache {
  private readonly cache = new Map<string, RunData>();

  of(config: Pick<RunConfig, 'task' | 'data'> = DEFAULT): RunData {
    const { task, data } = config;
    const shards = { name: task.name, partition: task.partition, shards: task.shards, seed: task.seed };
    const key = `${data}:${task.name}:${createHash('sha256')
      .update(JSON.stringify(data === 'demo' ? shards : { name: task.name }))
      .digest('hex')
      .slice(0, 16)}`;
    // Built per everything that cuts the data (the held-out subset follows the seed even with data: local).
    const full = JSON.stringify([data, shards, task.testExamples]);
    const hit = this.cache.get(full);
    if (hit) {
      // Most recently used last: the oldest goes first when the cache is full.
      this.cache.delete(full);
      this.cache.set(full, hit);
      return hit;
    }
    const made: RunData = { demo: new DemoTask(findTask(task.name), task, loadTaskData(task.name)), mode: data, key };
    this.cache.set(full, made);
    // A run holds its own RunData; the cache only saves rebuilding the few configs in use (each holds its shards).
    for (const old of this.cache.keys()) {
      if (this.cache.size <= MAX_CACHED) break;
      this.cache.delete(old);
    }
    return made;
  }
}
