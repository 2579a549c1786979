import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, evaluate, getFlatWeights, setFlatWeights, MNIST_SHAPE } from '@hushfl/tasks';
import { initTestTf, syntheticDigits } from './testing.ts';
import { batchTensors, dpsgdStep, dpsgdStepNaive, naiveClippedSum, proximalTerm, trainLocal } from './train.ts';
import { FunctionalModel } from './functional.ts';
import { clippedGradientSum, meanGradient, perExampleGradNormsSq, setWasmConvRoute } from './ghostClipping.ts';
import { GaussianNoise } from './gaussian.ts';

beforeAll(async () => {
  await initTestTf();
});

describe('models', () => {
  it('flatten and restore weights in layer order', async () => {
    const m = buildModel({ kind: 'mlp', hidden: [16] }, MNIST_SHAPE);
    const w = await getFlatWeights(m);
    expect(w.length).toBe(784 * 16 + 16 + 16 * 10 + 10);
    const changed = w.map((v, i) => v + i * 1e-3);
    setFlatWeights(m, changed);
    expect(Array.from((await getFlatWeights(m)).slice(0, 5))).toEqual(Array.from(changed.slice(0, 5)));
    expect(() => setFlatWeights(m, new Float32Array(3))).toThrow(/has 12730 weights/);
    m.dispose();
  });

  it('builds a CNN over 28×28 inputs', () => {
    const m = buildModel({ kind: 'cnn', filters: 4, kernel: 5, dense: 0 }, MNIST_SHAPE);
    expect(m.countParams()).toBe(4 * 25 + 4 + 12 * 12 * 4 * 10 + 10);
    m.dispose();
  });
});

describe('local training', () => {
  it('SGD learns the synthetic classes and keeps the tensor count flat across rounds', async () => {
    const data = syntheticDigits(300, 1);
    const m = buildModel({ kind: 'mlp', hidden: [32] }, MNIST_SHAPE);
    const before = await evaluate(m, data);
    const start = await getFlatWeights(m);
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

  it('DP-SGD with a huge clip and negligible noise is plain SGD on the batch mean', async () => {
    const data = syntheticDigits(8, 2);
    const a = buildModel({ kind: 'mlp', hidden: [8] }, MNIST_SHAPE);
    const b = buildModel({ kind: 'mlp', hidden: [8] }, MNIST_SHAPE);
    setFlatWeights(b, await getFlatWeights(a));
    const optA = tf.train.sgd(0.5);
    const optB = tf.train.sgd(0.5);
    const idx = [0, 1, 2, 3, 4, 5, 6, 7];
    await dpsgdStep(new FunctionalModel(a), optA, data, idx, 8, { clip: 1e6, noiseMultiplier: 1e-12, sampling: 'fixed' }, new GaussianNoise());
    const x = tf.tensor2d(data.x, [8, 784]);
    const y = tf.oneHot(tf.tensor1d(data.labels, 'int32'), 10);
    optB.minimize(() => tf.losses.softmaxCrossEntropy(y, b.predict(x) as tf.Tensor) as tf.Scalar);
    const wa = await getFlatWeights(a);
    const wb = await getFlatWeights(b);
    let maxDiff = 0;
    for (let i = 0; i < wa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(wa[i]! - wb[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
    tf.dispose([x, y]);
    a.dispose();
    b.dispose();
  });

  it('DP-SGD bounds each example’s influence: the step norm is at most lr·(B·C + noise)/B', async () => {
    const data = syntheticDigits(16, 3);
    const m = buildModel({ kind: 'mlp', hidden: [8] }, MNIST_SHAPE);
    const w0 = await getFlatWeights(m);
    const opt = tf.train.sgd(1);
    const C = 0.01;
    await dpsgdStep(
      new FunctionalModel(m),
      opt,
      data,
      Array.from({ length: 16 }, (_, i) => i),
      16,
      { clip: C, noiseMultiplier: 1e-12, sampling: 'fixed' },
    );
    const w1 = await getFlatWeights(m);
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

describe('FedProx (Li et al., MLSys 2020)', () => {
  const diff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

  it('each step descends F(w) + (μ/2)·‖w − w_global‖²: full-batch training equals tfjs autodiff of that objective', async () => {
    const data = syntheticDigits(24, 4);
    const mu = 0.5;
    const lr = 0.3;
    const a = buildModel({ kind: 'mlp', hidden: [8] }, MNIST_SHAPE);
    const b = buildModel({ kind: 'mlp', hidden: [8] }, MNIST_SHAPE);
    const w0 = await getFlatWeights(a);
    setFlatWeights(b, w0);
    // Three full-batch steps: the shuffle changes no batch, and from the second step on w ≠ w_global.
    await trainLocal(a, data, { epochs: 3, batchSize: 24, learningRate: lr, proximalMu: mu });
    const vars = b.trainableWeights.map((w) => w.read() as tf.Variable);
    const anchor = vars.map((v) => tf.clone(v));
    const x = tf.tensor2d(data.x, [24, 784]);
    const y = tf.oneHot(tf.tensor1d(data.labels, 'int32'), 10);
    const opt = tf.train.sgd(lr);
    for (let step = 0; step < 3; step++) {
      opt.minimize(
        () => {
          const loss = tf.losses.softmaxCrossEntropy(y, b.predict(x) as tf.Tensor) as tf.Scalar;
          const prox = vars.map((v, j) => tf.sum(tf.square(tf.sub(v, anchor[j]!))));
          return tf.add(loss, tf.mul(mu / 2, tf.addN(prox))) as tf.Scalar;
        },
        false,
        vars,
      );
    }
    const wa = await getFlatWeights(a);
    const wb = await getFlatWeights(b);
    expect(diff(wa, wb)).toBeLessThan(2e-6);
    // And the term did something: plain SGD from w0 lands elsewhere.
    const c = buildModel({ kind: 'mlp', hidden: [8] }, MNIST_SHAPE);
    setFlatWeights(c, w0);
    await trainLocal(c, data, { epochs: 3, batchSize: 24, learningRate: lr });
    expect(diff(wa, await getFlatWeights(c))).toBeGreaterThan(1e-4);
    tf.dispose([x, y, ...anchor]);
    opt.dispose();
    for (const m of [a, b, c]) m.dispose();
  });

  it('under DP-SGD the term is added after clipping and noise: one example still moves the step by at most lr·C/B, and the term adds exactly lr·μ·(w − w_global)', async () => {
    const data = syntheticDigits(16, 5);
    const mu = 0.8;
    const lr = 1;
    const C = 0.01;
    const B = 16;
    const m = buildModel({ kind: 'mlp', hidden: [8] }, MNIST_SHAPE);
    const fm = new FunctionalModel(m);
    const w0 = await getFlatWeights(m);
    const prox = proximalTerm(fm.variables, mu)!;
    // Away from the global model, as after some local steps.
    const w1 = w0.map((v, i) => v + 0.02 * Math.sin(i));
    const dp = { clip: C, noiseMultiplier: 1e-12, sampling: 'fixed' as const };
    const stepFrom = async (idx: number[], withProx: boolean) => {
      setFlatWeights(m, w1);
      const opt = tf.train.sgd(lr);
      await dpsgdStep(fm, opt, data, idx, B, dp, new GaussianNoise(), withProx ? prox : null);
      opt.dispose();
      return getFlatWeights(m);
    };
    const all = Array.from({ length: 16 }, (_, i) => i);
    const withAll = await stepFrom(all, true);
    const withoutOne = await stepFrom(all.slice(1), true);
    let sq = 0;
    for (let i = 0; i < w1.length; i++) sq += (withAll[i]! - withoutOne[i]!) ** 2;
    expect(Math.sqrt(sq)).toBeLessThanOrEqual((lr * C * 1.0001) / B);
    const plain = await stepFrom(all, false);
    let worst = 0;
    for (let i = 0; i < w1.length; i++) worst = Math.max(worst, Math.abs(plain[i]! - withAll[i]! - lr * mu * (w1[i]! - w0[i]!)));
    expect(worst).toBeLessThan(1e-6);
    prox.dispose();
    m.dispose();
  });

  it('keeps the tensor count flat', async () => {
    const data = syntheticDigits(40, 6);
    const m = buildModel({ kind: 'mlp', hidden: [8] }, MNIST_SHAPE);
    await trainLocal(m, data, { epochs: 1, batchSize: 8, learningRate: 0.1, proximalMu: 0.1 });
    const tensors = tf.memory().numTensors;
    await trainLocal(m, data, { epochs: 1, batchSize: 8, learningRate: 0.1, proximalMu: 0.1 });
    await trainLocal(m, data, { epochs: 1, batchSize: 8, learningRate: 0.1, proximalMu: 0.1 }, { dpsgd: { clip: 1, noiseMultiplier: 1, sampling: 'poisson' } });
    expect(tf.memory().numTensors).toBe(tensors);
    m.dispose();
  });
});

describe('ghost clipping (Goodfellow 2015; Lee & Kifer 2021) against the per-example loop', () => {
  const specs = [
    { kind: 'mlp' as const, hidden: [32, 16] },
    { kind: 'cnn' as const, filters: 4, kernel: 5, dense: 16 },
  ];
  for (const spec of specs) {
    it(`${spec.kind}: the functional forward pass equals model.predict`, () => {
      const m = buildModel(spec, MNIST_SHAPE);
      const data = syntheticDigits(5, 7);
      const fm = new FunctionalModel(m);
      const x = tf.tensor2d(data.x, [5, 784]);
      const a = (m.predict(x) as tf.Tensor).dataSync();
      const b = fm.forward(x).dataSync();
      for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 4);
      tf.dispose(x);
      m.dispose();
    });

    it(`${spec.kind}: per-example norms and the clipped sum match the loop over examples`, async () => {
      // tfjs' WASM backend has no Conv2D gradient kernels: convolutions train on the CPU backend in Node.
      if (spec.kind === 'cnn') await tf.setBackend('cpu');
      const m = buildModel(spec, MNIST_SHAPE);
      const data = syntheticDigits(12, 8);
      const idx = Array.from({ length: 12 }, (_, i) => i);
      const naive = await naiveClippedSum(m, data, idx, 0.5);
      const { x, y } = batchTensors(data, idx);
      const fm = new FunctionalModel(m);
      const ghostSq = perExampleGradNormsSq(fm, x, y).dataSync();
      for (let i = 0; i < 12; i++) expect(Math.sqrt(ghostSq[i]!)).toBeCloseTo(naive.norms[i]!, 3);
      // Some examples are clipped (norm > C) and some are not, so both branches are exercised.
      expect(Array.from(naive.norms).some((n) => n > 0.5)).toBe(true);
      const tensorsBefore = tf.memory().numTensors;
      const { grads, norms } = await clippedGradientSum(fm, x, y, 0.5);
      // Only the returned gradients outlive the call: no intermediate (activations, per-example grads) leaks.
      expect(tf.memory().numTensors).toBe(tensorsBefore + grads.length);
      for (let i = 0; i < 12; i++) expect(norms[i]).toBeCloseTo(naive.norms[i]!, 3);
      grads.forEach((g, j) => {
        const got = g.dataSync();
        const want = naive.sums[j]!;
        let err = 0;
        let scale = 0;
        for (let k = 0; k < want.length; k++) {
          err = Math.max(err, Math.abs(got[k]! - want[k]!));
          scale = Math.max(scale, Math.abs(want[k]!));
        }
        expect(err).toBeLessThan(1e-4 * Math.max(1, scale));
      });
      tf.dispose([x, y, ...grads]);
      m.dispose();
      await initTestTf();
    });
  }

  for (const route of ['auto', 'slices'] as const) {
    it(`cnn: per-example norms on WASM (${route === 'auto' ? 'its depthwise route' : 'the slices'}) match the loop over examples on the CPU backend`, async () => {
      await tf.setBackend('cpu');
      // One convolution (Cin = 1; functional.test.ts has Cin = 2) before the dense layers.
      const m = buildModel({ kind: 'cnn', filters: 4, kernel: 5, dense: 16 }, MNIST_SHAPE);
      const data = syntheticDigits(9, 21);
      const idx = Array.from({ length: 9 }, (_, i) => i);
      const naive = await naiveClippedSum(m, data, idx, 0.5);
      await initTestTf();
      expect(tf.getBackend()).toBe('wasm');
      const { x, y } = batchTensors(data, idx);
      setWasmConvRoute(route);
      try {
        const ghostSq = perExampleGradNormsSq(new FunctionalModel(m), x, y).dataSync();
        for (let i = 0; i < 9; i++) expect(Math.sqrt(ghostSq[i]!)).toBeCloseTo(naive.norms[i]!, 3);
      } finally {
        setWasmConvRoute('auto');
      }
      // The examples differ (a match is not one norm nine times); the random initial weights can bring two norms within 10^-3, not within 10^-7.
      expect(new Set(Array.from(naive.norms, (n) => n.toPrecision(7))).size).toBe(9);
      tf.dispose([x, y]);
      m.dispose();
    });
  }

  it('the naive and ghost DP-SGD steps give the same update (negligible noise)', async () => {
    const data = syntheticDigits(10, 9);
    const a = buildModel({ kind: 'mlp', hidden: [8] }, MNIST_SHAPE);
    const b = buildModel({ kind: 'mlp', hidden: [8] }, MNIST_SHAPE);
    setFlatWeights(b, await getFlatWeights(a));
    const idx = Array.from({ length: 10 }, (_, i) => i);
    const dp = { clip: 0.3, noiseMultiplier: 1e-12, sampling: 'fixed' as const };
    await dpsgdStep(new FunctionalModel(a), tf.train.sgd(0.5), data, idx, 10, dp);
    await dpsgdStepNaive(b, tf.train.sgd(0.5), data, idx, 10, dp);
    const wa = await getFlatWeights(a);
    const wb = await getFlatWeights(b);
    for (let i = 0; i < wa.length; i += 97) expect(wa[i]).toBeCloseTo(wb[i]!, 5);
    a.dispose();
    b.dispose();
  });

  it('the book-kept mean gradient equals tfjs autodiff of the mean loss (CNN with a hidden dense layer, CPU)', async () => {
    // The CPU backend has Conv2D filter gradients, so tfjs' own autodiff is the reference here.
    await tf.setBackend('cpu');
    const m = buildModel({ kind: 'cnn', filters: 3, kernel: 3, dense: 8 }, MNIST_SHAPE);
    const data = syntheticDigits(6, 12);
    const { x, y } = batchTensors(data, [0, 1, 2, 3, 4, 5]);
    const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads: want } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, m.predict(x) as tf.Tensor) as tf.Scalar, vars);
    const got = meanGradient(new FunctionalModel(m), x, y);
    expect(got.map((g) => g.shape)).toEqual(vars.map((v) => v.shape));
    got.forEach((g, j) => {
      const a = g.dataSync();
      const b = want[vars[j]!.name]!.dataSync();
      let err = 0;
      let scale = 0;
      for (let k = 0; k < b.length; k++) {
        err = Math.max(err, Math.abs(a[k]! - b[k]!));
        scale = Math.max(scale, Math.abs(b[k]!));
      }
      expect(scale).toBeGreaterThan(0);
      expect(err).toBeLessThan(1e-5 * Math.max(1, scale));
    });
    tf.dispose([x, y, value, ...got, ...Object.values(want)]);
    m.dispose();
    await initTestTf();
  });

  it('a CNN trains on the WASM backend, plain and with DP-SGD (no Conv2D filter-gradient kernel needed)', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const data = syntheticDigits(128, 13);
    for (const dpsgd of [null, { clip: 1, noiseMultiplier: 0.1, sampling: 'fixed' as const }]) {
      const m = buildModel({ kind: 'cnn', filters: 4, kernel: 5, dense: 0 }, MNIST_SHAPE);
      const before = await evaluate(m, data);
      const r = await trainLocal(m, data, { epochs: 3, batchSize: 16, learningRate: 0.1 }, { dpsgd });
      expect(r.loss).toBeLessThan(before.loss - 0.2);
      // Clipping to C = 1 slows DP-SGD down; the plain run fits these 128 examples.
      if (!dpsgd) expect(r.accuracy).toBeGreaterThan(0.9);
      m.dispose();
    }
  });

  it('DP-SGD training still learns, and reports its RDP', async () => {
    const data = syntheticDigits(256, 11);
    const m = buildModel({ kind: 'mlp', hidden: [32] }, MNIST_SHAPE);
    const r = await trainLocal(m, data, { epochs: 3, batchSize: 32, learningRate: 0.5 }, { dpsgd: { clip: 1, noiseMultiplier: 0.8, sampling: 'poisson' } });
    expect(r.accuracy).toBeGreaterThan(0.5);
    expect(r.dpsgdRdp).not.toBeNull();
    expect(r.dpsgdRdp![0]).toBeGreaterThan(0);
    m.dispose();
  });
});
