import { ConfigError, modelSpecSchema, taskSchema } from '@hushfl/protocol';
import { describe, expect, it } from 'vitest';
import {
  FASHION_MNIST_TASK,
  MNIST_TASK,
  SPAM_TASK,
  TASKS,
  describeInput,
  findTask,
  inputSize,
  parseTaskRunConfig,
  preprocess,
  validateTaskConfig,
  type TaskDescription,
} from './registry.ts';

const config = (over: Partial<Parameters<typeof validateTaskConfig>[1]> = {}) => ({ ...taskSchema.parse({}), ...over });

describe('the task registry', () => {
  it('lists mnist, fashion-mnist and spam once each, found by name; an unknown name lists the known ones', () => {
    expect(TASKS.map((t) => t.name)).toEqual(['mnist', 'fashion-mnist', 'spam']);
    expect(findTask('fashion-mnist')).toBe(FASHION_MNIST_TASK);
    expect(findTask('spam')).toBe(SPAM_TASK);
    expect(() => findTask('cifar10')).toThrow("unknown task 'cifar10': the tasks are 'mnist', 'fashion-mnist', 'spam'");
  });

  it('describes each task consistently: a label name per class, whole classes in each split, a model the schema keeps as is', () => {
    for (const t of TASKS) {
      expect(new Set(t.classes).size).toBe(t.classes.length);
      expect(t.metrics).toEqual(['accuracy', 'loss']);
      expect(modelSpecSchema.parse(t.model)).toEqual(t.model);
      expect(validateTaskConfig(t, config({ name: t.name, model: t.model }))).toEqual([]);
    }
    expect(FASHION_MNIST_TASK.classes[0]).toBe('T-shirt/top');
    expect(FASHION_MNIST_TASK.classes[9]).toBe('Ankle boot');
    expect(describeInput(MNIST_TASK.input)).toBe('image 28×28×1');
    expect(inputSize(MNIST_TASK.input)).toBe(28 * 28);
  });

  it('sizes tabular and token inputs', () => {
    const columns = [
      { name: 'age', type: 'number' },
      { name: 'sex', type: 'category', values: ['f', 'm', 'x'] },
    ] as const;
    expect(inputSize({ kind: 'tabular', columns })).toBe(1 + 3);
    expect(describeInput({ kind: 'tabular', columns })).toBe('tabular (2 columns)');
    expect(inputSize({ kind: 'tokens', vocabulary: 20_000, length: 128 })).toBe(128);
  });

  it('scales stored 8-bit pixels to [0, 1] as the shard decoder does', () => {
    const x = preprocess(MNIST_TASK, Uint8Array.from([0, 51, 255]));
    expect(Array.from(x)).toEqual([0, Math.fround(51 / 255), 1]);
  });
});

describe('validateTaskConfig', () => {
  it('accepts every config the run-config schema gives the mnist task today, at its bounds', () => {
    expect(validateTaskConfig(MNIST_TASK, config())).toEqual([]);
    expect(
      validateTaskConfig(MNIST_TASK, config({ model: { kind: 'cnn', filters: 64, kernel: 7, dense: 1024 }, shards: 10_000, testExamples: 5_000 })),
    ).toEqual([]);
  });

  it('names the key: a config of another task, too many shards; testExamples is at most (spam has fewer than the default)', () => {
    expect(validateTaskConfig(FASHION_MNIST_TASK, config())).toEqual(["task.name: 'mnist' is not the fashion-mnist task"]);
    expect(validateTaskConfig(MNIST_TASK, config({ shards: MNIST_TASK.data.train + 1 }))).toEqual([
      `task.shards: ${MNIST_TASK.data.train + 1} shards of the mnist task's ${MNIST_TASK.data.train} training examples leave some empty: at most ${MNIST_TASK.data.train}`,
    ]);
    expect(SPAM_TASK.data.test).toBeLessThan(config().testExamples);
    expect(validateTaskConfig(SPAM_TASK, config({ name: 'spam', model: SPAM_TASK.model }))).toEqual([]);
  });

  it('builds each model for the task it is given, and refuses a model kind that cannot read the input', () => {
    // The models follow the task's shape: 26 classes give 26 logits, 32×32×3 images a 32×32×3 CNN.
    const letters: TaskDescription = { ...MNIST_TASK, name: 'letters', classes: Array.from({ length: 26 }, (_, i) => String.fromCharCode(65 + i)) };
    expect(validateTaskConfig(letters, config({ name: 'letters' }))).toEqual([]);
    const colour: TaskDescription = { ...FASHION_MNIST_TASK, name: 'colour', input: { kind: 'image', height: 32, width: 32, channels: 3 } };
    expect(validateTaskConfig(colour, config({ name: 'colour', model: FASHION_MNIST_TASK.model }))).toEqual([]);
    const tiny: TaskDescription = { ...FASHION_MNIST_TASK, name: 'tiny', input: { kind: 'image', height: 5, width: 5, channels: 1 } };
    expect(validateTaskConfig(tiny, config({ name: 'tiny', model: { kind: 'cnn', filters: 8, kernel: 5, dense: 0 } }))).toEqual([
      'task.model: a 5×5 kernel leaves nothing to pool on 5×5 images',
    ]);
    expect(validateTaskConfig(SPAM_TASK, config({ name: 'spam', model: FASHION_MNIST_TASK.model }))).toEqual([
      "task.model: a cnn needs an image input, the spam task's input is tokens 128 of 4096",
    ]);
    expect(validateTaskConfig(SPAM_TASK, config({ name: 'spam', model: { kind: 'mlp', hidden: [64] } }))).toEqual([
      'task.model: an mlp over token ids learns nothing; use kind: embedding for tokens 128 of 4096',
    ]);
    expect(validateTaskConfig(MNIST_TASK, config({ model: SPAM_TASK.model }))).toEqual([
      "task.model: an embedding needs a token input, the mnist task's input is image 28×28×1",
    ]);
  });

  it('allows a natural partition only where the data says who wrote each example', () => {
    expect(validateTaskConfig(SPAM_TASK, config({ name: 'spam', model: SPAM_TASK.model, partition: { kind: 'natural' } }))).toEqual([]);
    expect(validateTaskConfig(MNIST_TASK, config({ partition: { kind: 'natural' } }))).toEqual([
      "task.partition: the mnist task's data does not say who wrote each example; use iid or dirichlet",
    ]);
  });

  it('parseTaskRunConfig: the run-config schema, then the task, every problem named by its key', () => {
    const base = { rounds: 1, minClients: 3, selection: { clientsPerRound: 3 }, ddg: { noise: false }, secagg: { maxColluders: 0 } };
    expect(parseTaskRunConfig({ ...base, task: { name: 'spam', model: SPAM_TASK.model } }).task.name).toBe('spam');
    expect(() => parseTaskRunConfig({ ...base, task: { name: 'cifar10' } })).toThrow(ConfigError);
    expect(() => parseTaskRunConfig({ ...base, task: { name: 'cifar10' } })).toThrow("task.name: unknown task 'cifar10'");
    try {
      parseTaskRunConfig({ ...base, task: { name: 'spam', shards: 6000, partition: { kind: 'natural' } } });
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).issues.map((i) => i.path)).toEqual(['task.model', 'task.shards']);
    }
    expect(() => parseTaskRunConfig({ ...base, task: { name: 'Bad Name' } })).toThrow('task.name: must be a task name');
  });
});
