/** The coordinator's task data (demo shards and the held-out split), built once per distinct task config. */
import { loadMnistPool } from '@hushfl/node';
import { taskSchema, type RunConfig } from '@hushfl/protocol';
import { MnistTask } from '@hushfl/tasks';

/** The task clients train on while no run is active: the config's defaults (one source: the schema). */
const DEFAULT_TASK: RunConfig['task'] = taskSchema.parse({});

export class TaskCache {
  private readonly tasks = new Map<string, MnistTask>();

  of(task: RunConfig['task'] = DEFAULT_TASK): MnistTask {
    const key = JSON.stringify({ partition: task.partition, shards: task.shards, testExamples: task.testExamples, seed: task.seed });
    const t = this.tasks.get(key) ?? new MnistTask(task, loadMnistPool());
    this.tasks.set(key, t);
    return t;
  }
}
