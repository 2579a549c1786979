/**
 * The task's models in TensorFlow.js layers: an MLP or a small CNN over 28×28 digits, emitting logits.
 * Weights cross the wire and the DDG encoder as one flat Float32Array in the layers' weight order.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ModelSpec } from '@hushfl/protocol';

export const IMAGE_SIDE = 28;
export const FEATURES = IMAGE_SIDE * IMAGE_SIDE;
export const CLASSES = 10;

export function buildModel(spec: ModelSpec): tfl.Sequential {
  const model = tfl.sequential();
  if (spec.kind === 'mlp') {
    for (const [i, units] of spec.hidden.entries()) model.add(tfl.layers.dense({ units, activation: 'relu', ...(i === 0 ? { inputShape: [FEATURES] } : {}) }));
    model.add(tfl.layers.dense({ units: CLASSES, ...(spec.hidden.length === 0 ? { inputShape: [FEATURES] } : {}) }));
  } else {
    model.add(tfl.layers.reshape({ targetShape: [IMAGE_SIDE, IMAGE_SIDE, 1], inputShape: [FEATURES] }));
    model.add(tfl.layers.conv2d({ filters: spec.filters, kernelSize: spec.kernel, activation: 'relu' }));
    model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tfl.layers.flatten());
    if (spec.dense > 0) model.add(tfl.layers.dense({ units: spec.dense, activation: 'relu' }));
    model.add(tfl.layers.dense({ units: CLASSES }));
  }
  return model;
}

/** Number of trainable parameters of the spec (the DDG dimension d). */
export function modelDimension(spec: ModelSpec): number {
  const m = buildModel(spec);
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

/** Mean softmax cross-entropy and accuracy of the model on a dataset (batched, no training). */
export async function evaluate(
  model: tfl.LayersModel,
  data: { n: number; features: number; x: Float32Array; labels: Uint8Array },
  batch = 512,
): Promise<{ loss: number; accuracy: number }> {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < data.n; start += batch) {
    const end = Math.min(data.n, start + batch);
    const both = tf.tidy(() => {
      const x = tf.tensor2d(data.x.subarray(start * data.features, end * data.features), [end - start, data.features]);
      const labels = tf.tensor1d(data.labels.subarray(start, end), 'int32');
      const logits = model.predict(x) as tf.Tensor2D;
      const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, CLASSES), logits, undefined, 0, tf.Reduction.SUM);
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32'));
      return tf.stack([loss, hits]);
    });
    let values: Float32Array;
    try {
      values = (await both.data()) as Float32Array;
    } finally {
      both.dispose();
    }
    const [l, c] = values;
    lossSum += l!;
    correct += c!;
  }
  return { loss: data.n ? lossSum / data.n : 0, accuracy: data.n ? correct / data.n : 0 };
}
