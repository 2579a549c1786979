import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { chachaRandomWords } from '@hushfl/ddp';
import { CLASSES, type Dataset } from '@hushfl/tasks';
import { FunctionalModel } from './functional.ts';
import { clippedGradientSum, meanGradient, perExampleGradNormsSq, segmentRowSum } from './ghostClipping.ts';
import { initTestTf } from './testing.ts';
import { batchTensors, trainLocal } from './train.ts';

beforeAll(async () => {
  await initTestTf();
});

function seeded(seed: number) {
  const s = new Uint8Array(32);
  s[0] = seed;
  const rw = chachaRandomWords(s);
  return { int: (n: number) => rw.next() % n, unit: () => rw.next() / 2 ** 32 };
}

const VOCAB = 50;
const LENGTH = 12;

/**
 * n sequences of LENGTH tokens, each drawn from a handful of its own, so every sequence repeats tokens (the
 * masked-Gram term of the embedding's ghost norm is then more than its diagonal).
 */
function repeatingTokens(n: number, seed: number): Float32Array {
  const r = seeded(seed);
  const x = new Float32Array(n * LENGTH);
  for (let i = 0; i < n; i++) {
    const pool = Array.from({ length: 4 }, () => r.int(VOCAB));
    for (let t = 0; t < LENGTH; t++) x[i * LENGTH + t] = pool[r.int(pool.length)]!;
  }
  return x;
}

function randomFeatures(n: number, features: number, seed: number): Float32Array {
  const r = seeded(seed);
  return Float32Array.from({ length: n * features }, () => r.unit() * 2 - 1);
}

function oneHotLabels(n: number, classes: number, seed: number): tf.Tensor2D {
  const r = seeded(seed);
  const labels = Int32Array.from({ length: n }, () => r.int(classes));
  return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes) as tf.Tensor2D);
}

interface Case {
  readonly name: string;
  readonly build: () => tfl.LayersModel;
  readonly x: (n: number) => tf.Tensor2D;
  readonly classes: number;
  /** The model ends in a softmax (its predict gives probabilities, the functional forward the logits). */
  readonly softmax: boolean;
  /** Token ids as input (each example's ids are checked to repeat). */
  readonly tokens: boolean;
  /**
   * tfjs' own autodiff of an Embedding needs UnsortedSegmentSum and of a Conv2D Conv2DBackpropFilter, which
   * tfjs-wasm lacks: the reference then runs on the CPU backend.
   */
  readonly cpuReference: boolean;
}

const cases: Case[] = [
  {
    name: 'embedding → global average pooling → dense tanh → dense softmax',
    build: () => {
      const m = tfl.sequential();
      m.add(tfl.layers.embedding({ inputDim: VOCAB, outputDim: 8, inputLength: LENGTH }));
      m.add(tfl.layers.globalAveragePooling1d({}));
      m.add(tfl.layers.dense({ units: 16, activation: 'tanh' }));
      m.add(tfl.layers.dense({ units: 3, activation: 'softmax' }));
      return m;
    },
    x: (n) => tf.tensor2d(repeatingTokens(n, 21), [n, LENGTH]),
    classes: 3,
    softmax: true,
    tokens: true,
    cpuReference: true,
  },
  {
    name: 'dense layers (one without a bias) with sigmoid and Activation layers (sigmoid, relu, softmax)',
    build: () => {
      const m = tfl.sequential();
      m.add(tfl.layers.dense({ units: 12, useBias: false, inputShape: [20] }));
      m.add(tfl.layers.activation({ activation: 'sigmoid' }));
      m.add(tfl.layers.dense({ units: 10, activation: 'sigmoid' }));
      m.add(tfl.layers.activation({ activation: 'relu' }));
      m.add(tfl.layers.dense({ units: 4 }));
      m.add(tfl.layers.activation({ activation: 'softmax' }));
      return m;
    },
    x: (n) => tf.tensor2d(randomFeatures(n, 20, 22), [n, 20]),
    classes: 4,
    softmax: true,
    tokens: false,
    cpuReference: false,
  },
  {
    // Dense over a sequence: 2T² = 288 ≤ 8·64 takes the Gram route, 2T² > 64·4 the per-example one (Li et al. 2022).
    name: 'input layer → embedding → dense over the sequence (both ghost routes) → pooling → dense, logits out',
    build: () => {
      const input = tfl.input({ shape: [LENGTH] });
      const e = tfl.layers.embedding({ inputDim: VOCAB, outputDim: 8 }).apply(input) as tfl.SymbolicTensor;
      const d1 = tfl.layers.dense({ units: 64, activation: 'relu' }).apply(e) as tfl.SymbolicTensor;
      const d2 = tfl.layers.dense({ units: 4, activation: 'tanh' }).apply(d1) as tfl.SymbolicTensor;
      const pooled = tfl.layers.globalAveragePooling1d({}).apply(d2) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3 }).apply(pooled) as tfl.SymbolicTensor });
    },
    x: (n) => tf.tensor2d(repeatingTokens(n, 23), [n, LENGTH]),
    classes: 3,
    softmax: false,
    tokens: true,
    cpuReference: true,
  },
  {
    name: 'a convolution without a bias (tanh) → max pooling → dense softmax',
    build: () => {
      const m = tfl.sequential();
      m.add(tfl.layers.reshape({ targetShape: [6, 6, 2], inputShape: [72] }));
      m.add(tfl.layers.conv2d({ filters: 3, kernelSize: 3, useBias: false, activation: 'tanh' }));
      m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
      m.add(tfl.layers.flatten());
      m.add(tfl.layers.dense({ units: 3, activation: 'softmax' }));
      return m;
    },
    x: (n) => tf.tensor2d(randomFeatures(n, 72, 24), [n, 72]),
    classes: 3,
    softmax: true,
    tokens: false,
    cpuReference: true,
  },
];

/**
 * The reference: Σᵢ min(1, C/‖gᵢ‖)·gᵢ by one tfjs autodiff pass per example, through model.predict. A model
 * ending in softmax is trained on its categorical cross-entropy −Σ y·log p, which is softmax cross-entropy on
 * the logits that the functional forward returns.
 */
function naiveClipped(model: tfl.LayersModel, x: tf.Tensor2D, y: tf.Tensor2D, clip: number, softmax: boolean) {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const sums = vars.map((v) => new Float64Array(v.size));
  const norms = new Float64Array(x.shape[0]);
  for (let i = 0; i < x.shape[0]; i++) {
    const { value, grads } = tf.variableGrads(() => {
      const xi = tf.slice(x, [i, 0], [1, -1]);
      const yi = tf.slice(y, [i, 0], [1, -1]);
      const out = model.predict(xi) as tf.Tensor;
      return (softmax ? tf.neg(tf.sum(tf.mul(yi, tf.log(out)))) : tf.losses.softmaxCrossEntropy(yi, out)) as tf.Scalar;
    }, vars);
    const flat = vars.map((v) => grads[v.name]!.dataSync());
    let sq = 0;
    for (const g of flat) for (let k = 0; k < g.length; k++) sq += g[k]! * g[k]!;
    norms[i] = Math.sqrt(sq);
    const scale = Math.min(1, clip / Math.max(norms[i]!, 1e-12));
    flat.forEach((g, j) => {
      for (let k = 0; k < g.length; k++) sums[j]![k]! += g[k]! * scale;
    });
    tf.dispose([value, ...Object.values(grads)]);
  }
  return { sums, norms };
}

function maxAbsDiff(got: ArrayLike<number>, want: ArrayLike<number>): { err: number; scale: number } {
  let err = 0;
  let scale = 0;
  for (let k = 0; k < want.length; k++) {
    err = Math.max(err, Math.abs(got[k]! - want[k]!));
    scale = Math.max(scale, Math.abs(want[k]!));
  }
  return { err, scale };
}

describe('FunctionalModel: embedding, pooling and activation layers (ghost clipping against the per-example loop)', () => {
  for (const c of cases) {
    it(`${c.name}: the functional forward pass equals model.predict (softmax of the logits where it ends in one)`, () => {
      const m = c.build();
      const fm = new FunctionalModel(m);
      expect(fm.droppedSoftmax).toBe(c.softmax);
      const x = c.x(6);
      const want = (m.predict(x) as tf.Tensor).dataSync();
      const logits = fm.forward(x);
      expect(logits.shape).toEqual([6, c.classes]);
      const got = (c.softmax ? tf.softmax(logits) : logits).dataSync();
      // Logits, not probabilities: their rows do not sum to 1 (all six rows within 1e-3 of 1 by chance: never).
      if (c.softmax) {
        const sums = tf.sum(logits, 1).dataSync();
        expect(Math.max(...Array.from(sums, (v) => Math.abs(v - 1)))).toBeGreaterThan(1e-3);
      }
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
      tf.dispose([x, logits]);
      m.dispose();
    });

    it(`${c.name}: per-example norms and the clipped sum match the loop over examples`, async () => {
      const n = 10;
      const m = c.build();
      const x = c.x(n);
      const y = oneHotLabels(n, c.classes, 31);
      if (c.tokens) {
        const ids = x.dataSync();
        for (let i = 0; i < n; i++) expect(new Set(ids.subarray(i * LENGTH, (i + 1) * LENGTH)).size).toBeLessThan(LENGTH);
      }
      if (c.cpuReference) await tf.setBackend('cpu');
      // The clip at the median norm: some examples are clipped and some are not.
      const unclipped = naiveClipped(m, x, y, Number.POSITIVE_INFINITY, c.softmax);
      const clip = Array.from(unclipped.norms).sort((a, b) => a - b)[n / 2]!;
      const naive = naiveClipped(m, x, y, clip, c.softmax);
      await initTestTf();
      expect(Array.from(naive.norms).filter((v) => v > clip).length).toBeGreaterThan(0);
      expect(Array.from(naive.norms).filter((v) => v < clip).length).toBeGreaterThan(0);

      const fm = new FunctionalModel(m);
      expect(fm.variables.map((v) => v.shape)).toEqual(m.getWeights().map((w) => w.shape));
      const ghostSq = perExampleGradNormsSq(fm, x, y).dataSync();
      for (let i = 0; i < n; i++) expect(Math.sqrt(ghostSq[i]!) / naive.norms[i]!).toBeCloseTo(1, 4);
      const tensorsBefore = tf.memory().numTensors;
      const { grads, norms } = await clippedGradientSum(fm, x, y, clip);
      // Only the returned gradients outlive the call: no intermediate (activations, ids, Grams) leaks.
      expect(tf.memory().numTensors).toBe(tensorsBefore + grads.length);
      expect(grads.map((g) => g.shape)).toEqual(fm.variables.map((v) => v.shape));
      for (let i = 0; i < n; i++) expect(norms[i]! / naive.norms[i]!).toBeCloseTo(1, 4);
      grads.forEach((g, j) => {
        const { err, scale } = maxAbsDiff(g.dataSync(), naive.sums[j]!);
        expect(scale).toBeGreaterThan(0);
        expect(err).toBeLessThan(1e-5 * Math.max(1, scale));
      });
      // With cᵢ = 1/B the same books give the mean gradient: the unclipped sum over B.
      const mean = meanGradient(fm, x, y);
      mean.forEach((g, j) => {
        const want = unclipped.sums[j]!.map((v) => v / n);
        const { err, scale } = maxAbsDiff(g.dataSync(), want);
        expect(err).toBeLessThan(1e-5 * Math.max(1, scale));
      });
      tf.dispose([x, y, ...grads, ...mean]);
      m.dispose();
    });
  }

  it('the two routes of the embedding’s weighted sum (unsorted segment sum; sort and sparse segment sum) agree', async () => {
    await tf.setBackend('cpu');
    const r = seeded(41);
    const n = 40;
    const vocab = 17;
    // Some ids repeat, some never occur, and the last id (vocab − 1) does not, so the zero row carries the shape.
    const idList = Int32Array.from({ length: n }, () => r.int(vocab - 1));
    const rowList = Float32Array.from({ length: n * 3 }, () => r.unit() - 0.5);
    const want = new Float64Array(vocab * 3);
    for (let i = 0; i < n; i++) for (let d = 0; d < 3; d++) want[idList[i]! * 3 + d]! += rowList[i * 3 + d]!;
    const rows = tf.tensor2d(rowList, [n, 3]);
    const ids = tf.tensor1d(idList, 'int32');
    for (const sorted of [false, true]) {
      const got = segmentRowSum(rows, ids, vocab, sorted);
      expect(got.shape).toEqual([vocab, 3]);
      expect(maxAbsDiff(got.dataSync(), want).err).toBeLessThan(1e-6);
      got.dispose();
    }
    await initTestTf();
    // tfjs-wasm has no UnsortedSegmentSum: the default there is the sorted route.
    const got = segmentRowSum(rows, ids, vocab);
    expect(maxAbsDiff(got.dataSync(), want).err).toBeLessThan(1e-6);
    tf.dispose([rows, ids, got]);
  });

  it('2×2 max pooling differentiates on WASM as tfjs-cpu’s MaxPoolGrad does (odd sizes, ties to the first maximum)', async () => {
    const shape: [number, number, number, number] = [3, 5, 6, 2];
    const r = seeded(43);
    const values = Float32Array.from({ length: 3 * 5 * 6 * 2 }, () => r.unit() - 0.5);
    // Example 0 is all ties (as a ReLU's zeros or a blank image region make them).
    values.fill(0.25, 0, 5 * 6 * 2);
    const weights = Float32Array.from({ length: 3 * 2 * 3 * 2 }, () => r.unit() - 0.5);
    const m = tfl.sequential();
    m.add(tfl.layers.maxPooling2d({ poolSize: 2, inputShape: shape.slice(1) }));
    m.add(tfl.layers.flatten());
    const fm = new FunctionalModel(m);
    const grad = (f: (t: tf.Tensor) => tf.Tensor) =>
      tf.tidy(() => {
        const w = tf.tensor2d(weights, [3, 12]);
        return tf
          .grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), w)))(tf.tensor4d(values, shape))
          .dataSync();
      });
    await tf.setBackend('cpu');
    const want = grad((t) => m.predict(t) as tf.Tensor);
    await initTestTf();
    const got = grad((t) => fm.forward(t as tf.Tensor2D));
    expect(Array.from(got)).toEqual(Array.from(want));
    // Each window's gradient goes to one position: the first of the tied example's windows.
    expect(Array.from(want.subarray(0, 2))).toEqual([weights[0], weights[1]]);
    m.dispose();
  });

  it('probeShapes: token inputs and kernel-only layers, for any batch', () => {
    const m = cases[2]!.build();
    const fm = new FunctionalModel(m);
    expect(fm.layers.map((l) => [l.kind, l.bias === null])).toEqual([
      ['embedding', true],
      ['dense', false],
      ['dense', false],
      ['dense', false],
    ]);
    expect(fm.probeShapes(5, LENGTH)).toEqual([
      [5, LENGTH, 8],
      [5, LENGTH, 64],
      [5, LENGTH, 4],
      [5, 3],
    ]);
    const tensors = tf.memory().numTensors;
    expect(fm.probeShapes(2, LENGTH)[0]).toEqual([2, LENGTH, 8]);
    expect(tf.memory().numTensors).toBe(tensors);
    m.dispose();
  });
});

describe('FunctionalModel refuses what it cannot train, naming every layer', () => {
  function refusal(build: () => tfl.LayersModel): string {
    const m = build();
    try {
      new FunctionalModel(m);
      return '';
    } catch (e) {
      return (e as Error).message;
    } finally {
      m.dispose();
    }
  }

  it('dropout, same-padded convolutions, a softmax before the end, an unsupported activation', () => {
    const names = ['conv_same', 'drop', 'mid_softmax', 'last_elu'];
    const msg = refusal(() => {
      const m = tfl.sequential();
      m.add(tfl.layers.reshape({ targetShape: [6, 6, 1], inputShape: [36] }));
      m.add(tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: names[0] }));
      m.add(tfl.layers.flatten());
      m.add(tfl.layers.dropout({ rate: 0.5, name: names[1] }));
      m.add(tfl.layers.dense({ units: 8, activation: 'softmax', name: names[2] }));
      m.add(tfl.layers.dense({ units: 3, activation: 'elu', name: names[3] }));
      return m;
    });
    expect(msg).toMatch(/conv_same \(Conv2D\): padding same is not supported/);
    expect(msg).toMatch(/drop \(Dropout\): layer Dropout is not supported/);
    expect(msg).toMatch(/mid_softmax \(Dense\): activation softmax is not supported/);
    expect(msg).toMatch(/last_elu \(Dense\): activation elu is not supported/);
    // One line per problem, and the layers that can train are not named.
    const lines = msg.split('\n').slice(1);
    expect(lines.map((l) => l.trim().split(' ')[0])).toEqual(names);
  });

  it('an LSTM; an embedding behind another layer; a frozen layer; a regulariser', () => {
    const lstm = refusal(() => {
      const m = tfl.sequential();
      m.add(tfl.layers.embedding({ inputDim: VOCAB, outputDim: 4, inputLength: LENGTH }));
      // Not the default orthogonal initialiser, which needs tfjs' chained ops (not loaded here).
      m.add(tfl.layers.lstm({ units: 4, recurrentInitializer: 'glorotUniform', name: 'the_lstm' }));
      m.add(tfl.layers.dense({ units: 3 }));
      return m;
    });
    expect(lstm).toMatch(/the_lstm \(LSTM\): layer LSTM is not supported/);
    const behind = refusal(() => {
      const m = tfl.sequential();
      m.add(tfl.layers.dense({ units: LENGTH, inputShape: [5], trainable: false, name: 'frozen' }));
      m.add(tfl.layers.embedding({ inputDim: VOCAB, outputDim: 4, name: 'late_embedding' }));
      m.add(tfl.layers.globalAveragePooling1d({}));
      m.add(tfl.layers.dense({ units: 3, kernelRegularizer: tfl.regularizers.l2(), name: 'regularised' }));
      return m;
    });
    expect(behind).toMatch(/late_embedding \(Embedding\): an Embedding must be the first layer/);
    expect(behind).toMatch(/frozen \(Dense\): a frozen layer/);
    expect(behind).toMatch(/regularised \(Dense\): kernel_regularizer is not supported/);
  });

  it('a model whose output is not [batch, classes]', () => {
    const msg = refusal(() => {
      const m = tfl.sequential();
      m.add(tfl.layers.embedding({ inputDim: VOCAB, outputDim: 4, inputLength: LENGTH }));
      m.add(tfl.layers.dense({ units: 3 }));
      return m;
    });
    expect(msg).toMatch(/must output \[batch, classes\] logits/);
  });
});

/** Sequences of LENGTH tokens whose class c ∈ [0, 10) is told by three copies of token c + 1 among noise tokens. */
function keywordTokens(n: number, seed: number): Dataset {
  const r = seeded(seed);
  const x = new Float32Array(n * LENGTH);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = r.int(CLASSES);
    labels[i] = c;
    for (let t = 0; t < LENGTH; t++) x[i * LENGTH + t] = CLASSES + 1 + r.int(VOCAB - CLASSES - 1);
    for (let k = 0; k < 3; k++) x[i * LENGTH + r.int(LENGTH)] = c + 1;
  }
  return { n, features: LENGTH, classes: CLASSES, x, labels };
}

function tokenModel(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.embedding({ inputDim: VOCAB, outputDim: 16, inputLength: LENGTH }));
  m.add(tfl.layers.globalAveragePooling1d({}));
  m.add(tfl.layers.dense({ units: 16, activation: 'tanh' }));
  m.add(tfl.layers.dense({ units: CLASSES, activation: 'softmax' }));
  return m;
}

/** Mean cross-entropy of the model's probabilities and its accuracy (evaluate() reads predict as logits). */
function fit(m: tfl.LayersModel, data: Dataset): { loss: number; accuracy: number } {
  return tf.tidy(() => {
    const { x, y } = batchTensors(
      data,
      Array.from({ length: data.n }, (_, i) => i),
    );
    const p = m.predict(x) as tf.Tensor2D;
    const loss = tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(p)), 1))).dataSync()[0]!;
    const accuracy = tf.mean(tf.cast(tf.equal(tf.argMax(p, 1), tf.argMax(y, 1)), 'float32')).dataSync()[0]!;
    return { loss, accuracy };
  });
}

describe('an embedding model trains end to end (WASM)', () => {
  it('plain SGD (book-kept mean gradient) and DP-SGD (ghost-clipped sum, seeded noise) both lower the loss', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const data = keywordTokens(160, 51);
    for (const dpsgd of [null, { clip: 1, noiseMultiplier: 0.3, sampling: 'poisson' as const }]) {
      const m = tokenModel();
      const before = fit(m, data);
      const rng = chachaRandomWords(new Uint8Array(32).fill(dpsgd ? 7 : 8));
      const r = await trainLocal(m, data, { epochs: 12, batchSize: 16, learningRate: 1 }, { dpsgd, rng });
      expect(r.steps).toBe(12 * 10);
      const after = fit(m, data);
      expect(after.loss).toBeLessThan(before.loss - 1.5);
      expect(after.accuracy).toBeGreaterThan(0.9);
      m.dispose();
    }
  });
});
