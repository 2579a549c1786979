/**
 * The task's models in TensorFlow.js layers, built for a task's shape (input, classes), emitting logits: an
 * MLP over the flat input, a small CNN over an image, an embedding bag over tokens, or a user's layers
 * model (layersModel.ts). Weights cross the wire and the DDG encoder as one flat Float32Array in the layers'
 * weight order.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ModelSpec } from '@hushfl/protocol';
import { describeInput, inputSize, type ModelShape } from './input.ts';
import { buildLayersModel, layersTopologyProblems } from './layersModel.ts';

export const IMAGE_SIDE = 28;
export const FEATURES = IMAGE_SIDE * IMAGE_SIDE;
export const CLASSES = 10;

/** The shape of the mnist and fashion-mnist tasks: 28×28×1 images, 10 classes (tests and benches use it). */
export const MNIST_SHAPE: ModelShape = { input: { kind: 'image', height: IMAGE_SIDE, width: IMAGE_SIDE, channels: 1 }, classes: CLASSES };

/** Why `spec` cannot be built for `shape`, each naming the key (empty: it can). */
export function modelProblems(spec: ModelSpec, shape: ModelShape): string[] {
  const { input } = shape;
  const out: string[] = [];
  if (spec.kind === 'cnn') {
    if (input.kind !== 'image') out.push(`task.model: a cnn needs an image input, the task's input is ${describeInput(input)}`);
    else {
      const side = Math.min(input.height, input.width) - spec.kernel + 1;
      if (side < 2) out.push(`task.model: a ${spec.kernel}×${spec.kernel} kernel leaves nothing to pool on ${input.height}×${input.width} images`);
    }
  } else if (spec.kind === 'embedding') {
    if (input.kind !== 'tokens') out.push(`task.model: an embedding needs a token input, the task's input is ${describeInput(input)}`);
  } else if (spec.kind === 'mlp') {
    // Token ids are category labels, not magnitudes: a dense layer over them learns nothing useful.
    if (input.kind === 'tokens') out.push(`task.model: an mlp over token ids learns nothing; use kind: embedding for ${describeInput(input)}`);
  } else {
    out.push(...layersTopologyProblems(spec.topology, shape).map((p) => `task.model: ${p}`));
  }
  return out;
}

/** The model of `spec` for a task of `shape` (taskShape of the registry's task); throws if it does not fit. */
export function buildModel(spec: ModelSpec, shape: ModelShape): tfl.LayersModel {
  const problems = modelProblems(spec, shape);
  if (problems.length) throw new RangeError(problems.join('; '));
  const { input, classes } = shape;
  const features = inputSize(input);
  if (spec.kind === 'layers') return buildLayersModel(spec.topology, shape);
  const model = tfl.sequential();
  if (spec.kind === 'mlp') {
    for (const [i, units] of spec.hidden.entries()) model.add(tfl.layers.dense({ units, activation: 'relu', ...(i === 0 ? { inputShape: [features] } : {}) }));
    model.add(tfl.layers.dense({ units: classes, ...(spec.hidden.length === 0 ? { inputShape: [features] } : {}) }));
  } else if (spec.kind === 'cnn' && input.kind === 'image') {
    model.add(tfl.layers.reshape({ targetShape: [input.height, input.width, input.channels], inputShape: [features] }));
    model.add(tfl.layers.conv2d({ filters: spec.filters, kernelSize: spec.kernel, activation: 'relu' }));
    model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tfl.layers.flatten());
    if (spec.dense > 0) model.add(tfl.layers.dense({ units: spec.dense, activation: 'relu' }));
    model.add(tfl.layers.dense({ units: classes }));
  } else if (spec.kind === 'embedding' && input.kind === 'tokens') {
    // An embedding bag (fastText-like, Joulin et al. 2017): the mean of the tokens' embeddings, then dense layers.
    model.add(tfl.layers.embedding({ inputDim: input.vocabulary, outputDim: spec.dim, inputLength: input.length }));
    model.add(tfl.layers.globalAveragePooling1d({}));
    for (const units of spec.hidden) model.add(tfl.layers.dense({ units, activation: 'relu' }));
    model.add(tfl.layers.dense({ units: classes }));
  }
  return model;
}

/** Number of trainable parameters of the spec for the shape (the DDG dimension d). */
export function modelDimension(spec: ModelSpec, shape: ModelShape): number {
  const m = buildModel(spec, shape);
  const n = m.countParams();
  m.dispose();
  return n;
}

/**
 * The weights as one flat vector. Reads are asynchronous: synchronous GPU read-back returns zeros on some
 * WebGPU adapters (SwiftShader among them), and blocks the thread on the others.
 */
export async function getFlatWeights(model: tfl.LayersModel): Promise<Float32Array> {
  const ws = model.getWeights();
  const total = ws.reduce((s, w) => s + w.size, 0);
  const out = new Float32Array(total);
  let off = 0;
  for (const w of ws) {
    out.set((await w.data()) as Float32Array, off);
    off += w.size;
  }
  return out;
}

export function setFlatWeights(model: tfl.LayersModel, flat: Float32Array): void {
  const current = model.getWeights();
  const total = current.reduce((s, w) => s + w.size, 0);
  if (flat.length !== total) throw new RangeError(`model has ${total} weights, got ${flat.length}`);
  let off = 0;
  const next: tf.Tensor[] = [];
  // Freed even when an upload fails (a lost GPU): the client then retries on another backend.
  try {
    for (const w of current) {
      next.push(tf.tensor(flat.subarray(off, off + w.size), w.shape, 'float32'));
      off += w.size;
    }
    model.setWeights(next);
  } finally {
    tf.dispose(next);
  }
}

type EvalData = { n: number; features: number; classes: number; x: Float32Array; labels: Uint8Array };

/**
 * Σ softmax cross-entropy and Σ correct predictions of the model on a dataset (batched, no training). With a
 * finite `maxLoss` each example's loss is clipped to [0, maxLoss] first, a non-finite one counting as maxLoss
 * (federated evaluation's bounded sums: packages/client federatedMetrics.ts).
 */
export async function evaluationSums(
  model: tfl.LayersModel,
  data: EvalData,
  maxLoss = Number.POSITIVE_INFINITY,
  batch = 512,
): Promise<{ lossSum: number; correct: number }> {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < data.n; start += batch) {
    const end = Math.min(data.n, start + batch);
    const both = tf.tidy(() => {
      const x = tf.tensor2d(data.x.subarray(start * data.features, end * data.features), [end - start, data.features]);
      const labels = tf.tensor1d(data.labels.subarray(start, end), 'int32');
      // predict's own batchSize (32 by default) would cut this batch again into 16 runs of every kernel.
      const logits = model.predict(x, { batchSize: end - start }) as tf.Tensor2D;
      const perExample = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, data.classes), logits, undefined, 0, tf.Reduction.NONE);
      const bounded = Number.isFinite(maxLoss)
        ? tf.where(tf.isFinite(perExample), tf.clipByValue(perExample, 0, maxLoss), tf.fill(perExample.shape, maxLoss))
        : perExample;
      const hits = tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32');
      return tf.stack([bounded, hits]);
    });
    let values: Float32Array;
    try {
      values = (await both.data()) as Float32Array;
    } finally {
      both.dispose();
    }
    // Summed here in float64: a float32 sum on the device drifts by ~1e-7 of the total.
    const m = end - start;
    for (let i = 0; i < m; i++) {
      lossSum += values[i]!;
      correct += values[m + i]!;
    }
  }
  return { lossSum, correct };
}

/** Mean softmax cross-entropy and accuracy of the model on a dataset (batched, no training). */
export async function evaluate(model: tfl.LayersModel, data: EvalData, batch = 512): Promise<{ loss: number; accuracy: number }> {
  const { lossSum, correct } = await evaluationSums(model, data, Number.POSITIVE_INFINITY, batch);
  return { loss: data.n ? lossSum / data.n : 0, accuracy: data.n ? correct / data.n : 0 };
}
