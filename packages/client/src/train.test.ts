import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, evaluate, getFlatWeights, setFlatWeights } from './model.ts';
import { initTestTf, syntheticDigits } from './testing.ts';
import { dpsgdStep, trainLocal } from './train.ts';
import { GaussianNoise } from './gaussian.ts';

beforeAll(async () => {
  await initTestTf();
});

describe('models', () => {
  it('flatten and restore weights in layer order', () => {
    const m = buildModel({ kind: 'mlp', hidden: [16] });
    const w = getFlatWeights(m);
    expect(w.length).toBe(784 * 16 + 16 + 16 * 10 + 10);
    const changed = w.map((v, i) => v + i * 1e-3);
    setFlatWeights(m, changed);
    expect(Array.from(getFlatWeights(m).slice(0, 5))).toEqual(Array.from(changed.slice(0, 5)));
    expect(() => setFlatWeights(m, new Float32Array(3))).toThrow(/has 12730 weights/);
    m.dispose();
  });

  it('builds a CNN over 28×28 inputs', () => {
    const m = buildModel({ kind: 'cnn', filters: 4, kernel: 5, dense: 0 });
    expect(m.countParams()).toBe(4 * 25 + 4 + 12 * 12 * 4 * 10 + 10);
    m.dispose();
  });
});

describe('local training', () => {
  it('SGD learns the synthetic classes and keeps the tensor count flat across rounds', async () => {
    const data = syntheticDigits(300, 1);
    const m = buildModel({ kind: 'mlp', hidden: [32] });
    const before = evaluate(m, data);
    const start = getFlatWeights(m);
    let tensors = -1;
    for (let round = 0; round < 3; round++) {
      setFlatWeights(m, start);
      const r = await trainLocal(m, data, { epochs: 2, batchSize: 16, learningRate: 0.1 });
      expect(r.steps).toBe(2 * Math.ceil(300 / 16));
      expect(r.accuracy).toBeGreaterThan(0.8);
      expect(r.loss).toBeLessThan(before.loss);
      if (tensors === -1) tensors = tf.memory().numTensors;
      else expect(tf.memory().numTensors).toBe(tensors);
    }
    m.dispose();
  });

  it('DP-SGD with a huge clip and negligible noise is plain SGD on the batch mean', () => {
    const data = syntheticDigits(8, 2);
    const a = buildModel({ kind: 'mlp', hidden: [8] });
    const b = buildModel({ kind: 'mlp', hidden: [8] });
    setFlatWeights(b, getFlatWeights(a));
    const optA = tf.train.sgd(0.5);
    const optB = tf.train.sgd(0.5);
    const idx = [0, 1, 2, 3, 4, 5, 6, 7];
    dpsgdStep(a, optA, data, idx, 8, { clip: 1e6, noiseMultiplier: 1e-12, sampling: 'fixed' }, new GaussianNoise());
    const x = tf.tensor2d(data.x, [8, 784]);
    const y = tf.oneHot(tf.tensor1d(data.labels, 'int32'), 10);
    optB.minimize(() => tf.losses.softmaxCrossEntropy(y, b.predict(x) as tf.Tensor) as tf.Scalar);
    const wa = getFlatWeights(a);
    const wb = getFlatWeights(b);
    let maxDiff = 0;
    for (let i = 0; i < wa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(wa[i]! - wb[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
    tf.dispose([x, y]);
    a.dispose();
    b.dispose();
  });

  it('DP-SGD bounds each example’s influence: the step norm is at most lr·(B·C + noise)/B', () => {
    const data = syntheticDigits(16, 3);
    const m = buildModel({ kind: 'mlp', hidden: [8] });
    const w0 = getFlatWeights(m);
    const opt = tf.train.sgd(1);
    const C = 0.01;
    dpsgdStep(m, opt, data, Array.from({ length: 16 }, (_, i) => i), 16, { clip: C, noiseMultiplier: 1e-12, sampling: 'fixed' });
    const w1 = getFlatWeights(m);
    let sq = 0;
    for (let i = 0; i < w0.length; i++) sq += (w1[i]! - w0[i]!) ** 2;
    expect(Math.sqrt(sq)).toBeLessThanOrEqual(C * 1.0001);
    m.dispose();
  });

  it('continuous Gaussian noise from the CSPRNG has mean 0 and variance 1', () => {
    const g = new GaussianNoise();
    const n = 50_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = g.next();
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(s2 / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });
});
