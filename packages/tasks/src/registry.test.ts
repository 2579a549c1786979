import { modelSpecSchema, taskSchema } from '@hushfl/protocol';
import { describe, expect, it } from 'vitest';
import { FEATURES } from './model.ts';
import { FASHION_MNIST_TASK, MNIST_TASK, TASKS, describeInput, findTask, inputSize, preprocess, validateTaskConfig, type TaskDescription } from './registry.ts';

const config = (over: Partial<Parameters<typeof validateTaskConfig>[1]> = {}) => ({ ...taskSchema.parse({}), ...over });

describe('the task registry', () => {
  it('lists mnist and fashion-mnist once each, found by name; an unknown name lists the known ones', () => {
    expect(TASKS.map((t) => t.name)).toEqual(['mnist', 'fashion-mnist']);
    expect(findTask('fashion-mnist')).toBe(FASHION_MNIST_TASK);
    expect(() => findTask('cifar10')).toThrow("unknown task 'cifar10': the tasks are 'mnist', 'fashion-mnist'");
  });

  it('describes each task consistently: a label name per class, whole classes in each split, a model the schema keeps as is', () => {
    for (const t of TASKS) {
      expect(new Set(t.classes).size).toBe(t.classes.length);
      expect(t.data.train % t.classes.length).toBe(0);
      expect(t.metrics).toEqual(['accuracy', 'loss']);
      expect(modelSpecSchema.parse(t.model)).toEqual(t.model);
      expect(validateTaskConfig(t, config({ name: t.name, model: t.model }))).toEqual([]);
    }
    expect(FASHION_MNIST_TASK.classes[0]).toBe('T-shirt/top');
    expect(FASHION_MNIST_TASK.classes[9]).toBe('Ankle boot');
    expect(describeInput(MNIST_TASK.input)).toBe('image 28×28×1');
    expect(inputSize(MNIST_TASK.input)).toBe(28 * 28);
  });

  it('sizes tabular and token inputs (the kinds no built-in task uses yet)', () => {
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

  it('names the key: a config of another task, too many shards, too many test examples', () => {
    expect(validateTaskConfig(FASHION_MNIST_TASK, config())).toEqual(["task.name: 'mnist' is not the fashion-mnist task"]);
    expect(validateTaskConfig(MNIST_TASK, config({ shards: MNIST_TASK.data.train + 1, testExamples: MNIST_TASK.data.test + 1 }))).toEqual([
      `task.shards: ${MNIST_TASK.data.train + 1} shards of the mnist task's ${MNIST_TASK.data.train} training examples leave some empty: at most ${MNIST_TASK.data.train}`,
      `task.testExamples: the mnist task has ${MNIST_TASK.data.test} test examples, asked for ${MNIST_TASK.data.test + 1}`,
    ]);
  });

  it('refuses models that do not fit the input or the classes (tasks of other shapes, built from the real ones)', () => {
    const emnistLetters: TaskDescription = { ...MNIST_TASK, name: 'letters', classes: Array.from({ length: 26 }, (_, i) => String.fromCharCode(65 + i)) };
    expect(validateTaskConfig(emnistLetters, config({ name: 'letters' }))).toEqual([`task.model: the letters task has 26 classes, the model outputs 10`]);
    const colour: TaskDescription = { ...FASHION_MNIST_TASK, name: 'colour', input: { kind: 'image', height: 32, width: 32, channels: 3 } };
    expect(validateTaskConfig(colour, config({ name: 'colour' }))).toEqual([
      `task.model: the model takes ${FEATURES} inputs, the colour task gives ${32 * 32 * 3} (32×32×3)`,
    ]);
    expect(validateTaskConfig(colour, config({ name: 'colour', model: FASHION_MNIST_TASK.model }))).toEqual([
      "task.model: the cnn takes 28×28×1 images, the colour task's are 32×32×3",
    ]);
    const text: TaskDescription = { ...MNIST_TASK, name: 'text', input: { kind: 'tokens', vocabulary: 20_000, length: 784 } };
    expect(validateTaskConfig(text, config({ name: 'text', model: FASHION_MNIST_TASK.model }))).toEqual([
      "task.model: a cnn needs an image input, the text task's input is tokens 784 of 20000",
    ]);
  });
});
