/**
 * Local training with TensorFlow.js: mini-batch SGD on the client's own shard, optionally DP-SGD
 * (Abadi et al. 2016): per-example gradients clipped to norm C, Gaussian noise σ·C on their sum (CSPRNG),
 * Poisson or fixed-size batches. The clipped sum comes from ghost clipping (ghostClipping.ts: per-example
 * norms from activations and output gradients, and the clipped sum assembled from the same factors by
 * book-keeping, so a batch costs one forward and one backward pass); `dpsgdStepNaive`, one
 * backward pass per example, is kept as the reference the tests and the benchmark compare against.
 *
 * FedProx (Li et al., MLSys 2020, Algorithm 2): with μ > 0 each step descends h(w) = F(w) + (μ/2)·‖w − w_global‖²,
 * whose gradient adds μ·(w − w_global) to the data gradient. Under DP-SGD that term is added after the clipped
 * sum is noised and averaged: it depends on no example, so it is post-processing of the noisy gradient and
 * each example's contribution stays bounded by the clip C (the proximal term is not clipped, by design).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { cryptoRandomWords, dpsgdStepRdp, shuffleInPlace, type RandomWords } from '@hushfl/ddp';
import { GaussianNoise } from './gaussian.ts';
import { FunctionalModel } from './functional.ts';
import { clippedGradientSum, meanGradient } from './ghostClipping.ts';
import { evaluate, type Dataset } from '@hushfl/tasks';

export interface TrainConfig {
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** FedProx's μ; absent or 0: plain SGD on the data loss. */
  readonly proximalMu?: number;
}

export interface DpSgdConfig {
  readonly clip: number;
  readonly noiseMultiplier: number;
  readonly sampling: 'poisson' | 'fixed';
}

export interface TrainProgress {
  readonly epoch: number;
  readonly batch: number;
  readonly batches: number;
}

export interface TrainResult {
  readonly loss: number;
  readonly accuracy: number;
  readonly examples: number;
  readonly steps: number;
  readonly ms: number;
  /** Per-step RDP of DP-SGD times the steps taken (null without DP-SGD). */
  readonly dpsgdRdp: Float64Array | null;
}

function batchTensors(data: Dataset, idx: ArrayLike<number>): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const f = data.features;
  const x = new Float32Array(idx.length * f);
  const labels = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i]!;
    x.set(data.x.subarray(j * f, (j + 1) * f), i * f);
    labels[i] = data.labels[j]!;
  }
  return tf.tidy(() => ({ x: tf.tensor2d(x, [idx.length, f]), y: tf.oneHot(tf.tensor1d(labels, 'int32'), data.classes) as tf.Tensor2D }));
}

function lossOf(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar;
}

/** Poisson batch: each example independently with probability q (CSPRNG). */
function poissonBatch(n: number, q: number, rw: RandomWords): number[] {
  const threshold = q * 4294967296;
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (rw.next() < threshold) out.push(i);
  return out;
}

export async function trainLocal(
  model: tfl.LayersModel,
  data: Dataset,
  cfg: TrainConfig,
  opts: { dpsgd?: DpSgdConfig | null; onProgress?: (p: TrainProgress) => void; rng?: RandomWords } = {},
): Promise<TrainResult> {
  const started = performance.now();
  const rw = opts.rng ?? cryptoRandomWords();
  // Both paths differentiate the functional model (ghostClipping.ts), so a convolutional model trains on every
  // backend, WASM included.
  const fm = new FunctionalModel(model);
  const vars = fm.variables;
  const noise = opts.dpsgd ? new GaussianNoise(rw) : null;
  const batchSize = Math.min(cfg.batchSize, Math.max(1, data.n));
  const batches = Math.max(1, Math.ceil(data.n / batchSize));
  let steps = 0;
  const optimizer = tf.train.sgd(cfg.learningRate);
  const proximal = proximalTerm(vars, cfg.proximalMu ?? 0);
  // A failure mid-training (a GPU lost, out of memory) frees what the step holds: the training Worker then
  // retries on another backend, and a tensor left behind on the failed one would never be freed.
  try {
    if (data.n > 0) {
      const order = Uint32Array.from({ length: data.n }, (_, i) => i);
      for (let epoch = 0; epoch < cfg.epochs; epoch++) {
        shuffleInPlace(order, rw);
        for (let b = 0; b < batches; b++) {
          if (opts.dpsgd) {
            const q = batchSize / data.n;
            const idx =
              opts.dpsgd.sampling === 'poisson'
                ? poissonBatch(data.n, q, rw)
                : Array.from(order.subarray(b * batchSize, Math.min(data.n, (b + 1) * batchSize)));
            await dpsgdStep(fm, optimizer, data, idx, batchSize, opts.dpsgd, noise!, proximal);
          } else {
            const idx = order.subarray(b * batchSize, Math.min(data.n, (b + 1) * batchSize));
            const { x, y } = batchTensors(data, idx);
            let grads: tf.Tensor[] = [];
            try {
              grads = meanGradient(fm, x, y);
              if (proximal) grads = proximal.addTo(grads);
              optimizer.applyGradients(Object.fromEntries(vars.map((v, j) => [v.name, grads[j]!])));
            } finally {
              tf.dispose([x, y, ...grads]);
            }
          }
          steps++;
          opts.onProgress?.({ epoch, batch: b + 1, batches });
          // Yield so progress reaches the page and messages keep flowing during long training.
          if (b % 8 === 7) await new Promise((r) => setTimeout(r, 0));
        }
      }
    }
  } finally {
    optimizer.dispose();
    proximal?.dispose();
  }
  const { loss, accuracy } = await evaluate(model, data);
  const dpsgdRdp = opts.dpsgd && data.n > 0 ? dpsgdStepRdp(Math.min(1, batchSize / data.n), opts.dpsgd.noiseMultiplier).map((r) => r * steps) : null;
  return { loss, accuracy, examples: data.n, steps, ms: performance.now() - started, dpsgdRdp };
}

/**
 * FedProx's μ·(w − w_global), from a copy of the variables taken when training starts (the global model the
 * task carried). `addTo` takes the data gradients and returns new ones with the term added (disposing them).
 */
export interface ProximalTerm {
  addTo(grads: tf.Tensor[]): tf.Tensor[];
  dispose(): void;
}

export function proximalTerm(vars: readonly tf.Variable[], mu: number): ProximalTerm | null {
  if (!(mu > 0)) return null;
  const anchor = vars.map((v) => tf.clone(v));
  return {
    addTo(grads) {
      const out = tf.tidy(() => grads.map((g, j) => tf.add(g, tf.mul(tf.scalar(mu), tf.sub(vars[j]!, anchor[j]!)))));
      tf.dispose(grads);
      return out;
    },
    dispose: () => tf.dispose(anchor),
  };
}

/**
 * ḡ = (clipped sum + N(0, σ²C²)) / B, applied by the optimizer; B is the expected (Poisson) or fixed batch size.
 * FedProx's term joins after the noise: it reads no example (the module comment).
 */
function applyNoisyMean(
  optimizer: tf.Optimizer,
  vars: readonly tf.Variable[],
  sums: readonly Float32Array[],
  expectedBatch: number,
  dp: DpSgdConfig,
  noise: GaussianNoise,
  proximal: ProximalTerm | null = null,
): void {
  let grads: tf.Tensor[] = [];
  try {
    grads = vars.map((v, j) => {
      const s = sums[j]!;
      noise.addTo(s, dp.noiseMultiplier * dp.clip);
      for (let k = 0; k < s.length; k++) s[k]! /= expectedBatch;
      return tf.tensor(s, v.shape);
    });
    if (proximal) grads = proximal.addTo(grads);
    optimizer.applyGradients(Object.fromEntries(vars.map((v, j) => [v.name, grads[j]!])));
  } finally {
    tf.dispose(grads);
  }
}

/** One DP-SGD step with ghost norms and book-keeping (one forward and one backward pass for the whole batch). */
export async function dpsgdStep(
  fm: FunctionalModel,
  optimizer: tf.Optimizer,
  data: Dataset,
  idx: ArrayLike<number>,
  expectedBatch: number,
  dp: DpSgdConfig,
  noise = new GaussianNoise(),
  proximal: ProximalTerm | null = null,
): Promise<void> {
  const vars = fm.variables;
  let sums: Float32Array[];
  if (idx.length === 0) sums = vars.map((v) => new Float32Array(v.size));
  else {
    const { x, y } = batchTensors(data, idx);
    try {
      const { grads } = await clippedGradientSum(fm, x, y, dp.clip);
      try {
        sums = await Promise.all(grads.map(async (g) => ((await g.data()) as Float32Array).slice()));
      } finally {
        tf.dispose(grads);
      }
    } finally {
      tf.dispose([x, y]);
    }
  }
  applyNoisyMean(optimizer, vars, sums, expectedBatch, dp, noise, proximal);
}

/**
 * The reference DP-SGD step: one backward pass per example, gᵢ = ∇ℓ(xᵢ), clipped to C and summed.
 * Slow (B backward passes) but obviously right; the tests check ghost clipping against it.
 */
export async function dpsgdStepNaive(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  data: Dataset,
  idx: ArrayLike<number>,
  expectedBatch: number,
  dp: DpSgdConfig,
  noise = new GaussianNoise(),
): Promise<void> {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const sums = (await naiveClippedSum(model, data, idx, dp.clip)).sums;
  applyNoisyMean(optimizer, vars, sums, expectedBatch, dp, noise);
}

/** Σᵢ min(1, C/‖gᵢ‖)·gᵢ by the per-example loop, with the per-example norms. */
export async function naiveClippedSum(
  model: tfl.LayersModel,
  data: Dataset,
  idx: ArrayLike<number>,
  clip: number,
): Promise<{ sums: Float32Array[]; norms: Float32Array }> {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const sums = vars.map((v) => new Float32Array(v.size));
  const norms = new Float32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const { x, y } = batchTensors(data, [idx[i]!]);
    const { grads } = tf.variableGrads(() => lossOf(model, x, y), vars);
    const flat = await Promise.all(vars.map(async (v) => (await grads[v.name]!.data()) as Float32Array));
    let sq = 0;
    for (const g of flat) for (let k = 0; k < g.length; k++) sq += g[k]! * g[k]!;
    norms[i] = Math.sqrt(sq);
    const scale = Math.min(1, clip / Math.max(norms[i]!, 1e-12));
    flat.forEach((g, j) => {
      const s = sums[j]!;
      for (let k = 0; k < g.length; k++) s[k]! += g[k]! * scale;
    });
    tf.dispose([x, y, ...Object.values(grads)]);
  }
  return { sums, norms };
}

export { batchTensors };
