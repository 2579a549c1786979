/**
 * Per-example clipping without a backward pass per example: ghost norms (Goodfellow 2015; Lee & Kifer 2021)
 * plus "book-keeping" (Bu, Wang, Zha & Karypis, ICML 2023): one forward and one backward pass to the layers'
 * outputs give every example's gradient norm, and the clipped sum is then assembled from the same activations
 * and output gradients, with no second backward pass. For the task's layer types:
 *
 * - Dense (z = a·W + b): example i's weight gradient is the outer product aᵢᵀgᵢ (gᵢ = ∂Lᵢ/∂zᵢ), so
 *   ‖∇W‖² = ‖aᵢ‖²·‖gᵢ‖², ‖∇b‖² = ‖gᵢ‖², and the clipped sum is Σᵢ cᵢ·aᵢᵀgᵢ = aᵀ·diag(c)·g, one matmul.
 * - Dense over a sequence (aᵢ: [T, in]): ∇Wᵢ = Σₜ aᵢₜᵀgᵢₜ, and ‖∇Wᵢ‖² = Σₜₜ' ⟨aᵢₜ, aᵢₜ'⟩⟨gᵢₜ, gᵢₜ'⟩ from the two
 *   [T, T] Gram matrices (Li, Tramèr, Liang & Hashimoto, ICLR 2022, "ghost clipping") where 2T² ≤ in·out, else from
 *   the materialised ∇Wᵢ (Bu et al.'s mixed rule); the clipped sum is one matmul over all B·T rows.
 * - Conv2D: ∇W = Σₚ patchᵢₚᵀ gᵢₚ over output positions p. For small kernels it is cheaper to form it per example
 *   (Lee & Kifer's / Bu et al.'s mixed rule: when T² > k²·Cin·Cout): on WASM one depthwise convolution, elsewhere
 *   one batched matmul per kernel offset (convBook); the
 *   clipped sum Σᵢ cᵢ·∇Wᵢ is one convolution of the input by c-weighted g. ∇b = Σₚ gᵢₚ likewise.
 * - Embedding (a Dense layer over one-hot tokens, no bias): ∇Eᵢ = Σₜ onehot(xᵢₜ)ᵀgᵢₜ, so
 *   ‖∇Eᵢ‖² = Σₜₜ' [xᵢₜ = xᵢₜ'] ⟨gᵢₜ, gᵢₜ'⟩ — the Gram matrix of the output gradients masked by token equality
 *   (Li et al. 2022, ghost clipping of the embedding layer), never the [vocabulary, dim] gradient per example;
 *   the clipped sum adds the rows cᵢ·gᵢₜ into the rows of their tokens.
 *
 * cᵢ = min(1, C/‖∇Lᵢ‖); the result is Σᵢ cᵢ·∇Lᵢ exactly (up to float rounding), as the per-example loop gives.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FunctionalModel } from './functional.ts';

/**
 * What one layer contributes: its per-example squared gradient norms and, given weights c, Σᵢ cᵢ·∇ᵢ for each
 * of its variables in the layer's order (kernel, then bias where it has one).
 */
interface LayerBook {
  normsSq(): tf.Tensor1D;
  weightedSum(c: tf.Tensor1D): tf.Tensor[];
}

/**
 * a·bᵀ or aᵀ·b (batched too). tfjs-wasm 4.22's BatchMatMul runs 3–4× slower with a transpose flag than a
 * Transpose kernel followed by a plain one (Node, one core: [16,784]ᵀ·[16,64] 1.9 ms vs 0.44 ms; [16,64]·[784,64]ᵀ
 * 1.4 ms vs 0.34 ms as (W·gᵀ)ᵀ), and these products are most of a training step; the GPU backends fold the flag
 * into their kernel, so there it stays. tfjs's own MatMul gradient in the backward pass (dy·Wᵀ, flagged) is left as
 * it is: tf.profile puts it at 1 % of a CNN step's kernel time on WASM (batch 32) and the MLP's first layer, whose
 * input gradient nobody asks for, never runs it.
 */
function matMulT<T extends tf.Tensor2D | tf.Tensor3D>(a: T, b: T, transposeA: boolean, transposeB: boolean): T {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b, transposeA, transposeB) as T;
  const t = (x: T): T => (x.rank === 2 ? tf.transpose(x) : tf.transpose(x, [0, 2, 1])) as T;
  return tf.matMul(transposeA ? t(a) : a, transposeB ? t(b) : b) as T;
}

function rowSumSq(t: tf.Tensor): tf.Tensor1D {
  return tf.sum(tf.square(tf.reshape(t, [t.shape[0]!, -1])), 1) as tf.Tensor1D;
}

/** Σᵢ cᵢ·rowᵢ of a [B, K] matrix, as a [K] vector reshaped to `shape`. */
function weightedRowSum(c: tf.Tensor1D, rows: tf.Tensor2D, shape: number[]): tf.Tensor {
  return tf.reshape(tf.matMul(tf.reshape(c, [1, -1]) as tf.Tensor2D, rows), shape);
}

/** Σₜₜ' Uᵢₜₜ'·⟨vᵢₜ, vᵢₜ'⟩ per example i, for a [B, T, T] U and a [B, T, ·] v. */
function gramInner(u: tf.Tensor, v: tf.Tensor3D): tf.Tensor1D {
  return tf.sum(tf.mul(u, matMulT(v, v, false, true)), [1, 2]) as tf.Tensor1D;
}

function denseBook(a: tf.Tensor, g: tf.Tensor, kernelShape: number[], bias: boolean): LayerBook {
  const [inputs, units] = kernelShape as [number, number];
  const b = a.shape[0]!;
  if (a.rank === 2) {
    const a2 = a as tf.Tensor2D;
    const g2 = g as tf.Tensor2D;
    return {
      normsSq: () => {
        const gSq = rowSumSq(g2);
        const w = tf.mul(rowSumSq(a2), gSq) as tf.Tensor1D;
        return bias ? tf.add(w, gSq) : w;
      },
      weightedSum: (c) => {
        const cg = tf.mul(g2, tf.reshape(c, [-1, 1])) as tf.Tensor2D;
        const w = tf.reshape(matMulT(a2, cg, true, false), kernelShape);
        return bias ? [w, tf.sum(cg, 0)] : [w];
      },
    };
  }
  // A sequence (any rank > 2: the middle axes are positions, as tfjs-layers applies Dense to the last axis).
  const a3 = tf.reshape(a, [b, -1, inputs]) as tf.Tensor3D;
  const g3 = tf.reshape(g, [b, -1, units]) as tf.Tensor3D;
  const t = a3.shape[1];
  return {
    normsSq: () => {
      // Li et al. 2022: two [T, T] Grams where they are smaller than the [in, out] per-example gradients.
      const w = 2 * t * t <= inputs * units ? gramInner(matMulT(a3, a3, false, true), g3) : rowSumSq(matMulT(a3, g3, true, false));
      return bias ? tf.add(w, rowSumSq(tf.sum(g3, 1))) : w;
    },
    weightedSum: (c) => {
      const cg = tf.reshape(tf.mul(g3, tf.reshape(c, [-1, 1, 1])), [-1, units]) as tf.Tensor2D;
      const w = matMulT(tf.reshape(a3, [-1, inputs]) as tf.Tensor2D, cg, true, false);
      return bias ? [w, tf.sum(cg, 0)] : [w];
    },
  };
}

/**
 * The depthwise route's filter holds g replicated over the input channels, oh·ow·B·Cin·Cout floats; the slices'
 * route keeps about 2·kh·kw·B·oh·ow·Cin (each offset's slice and its transpose) until the step ends. The depthwise
 * route runs while its filter is within 64 MiB, or past that while it is the smaller of the two.
 */
const DEPTHWISE_FILTER_BUDGET = 2 ** 24;
let wasmConvRoute: 'auto' | 'slices' = 'auto';

/** Which route per-example conv gradients take on WASM: 'auto' (above), or always the slices (to test them). */
export function setWasmConvRoute(route: 'auto' | 'slices'): void {
  wasmConvRoute = route;
}

function depthwiseRoute(b: number, oh: number, ow: number, cin: number, cout: number, kh: number, kw: number): boolean {
  if (tf.getBackend() !== 'wasm' || wasmConvRoute === 'slices') return false;
  return b * oh * ow * cin * cout <= DEPTHWISE_FILTER_BUDGET || cout <= 2 * kh * kw;
}

function convBook(input: tf.Tensor4D, g: tf.Tensor4D, kernelShape: number[], bias: boolean): LayerBook {
  const [kh, kw] = kernelShape as [number, number];
  const [b, , , cin] = input.shape;
  const [, oh, ow, cout] = g.shape;
  // ∇W[dy, dx, ci, co] = Σ_{y,x} input[y+dy, x+dx, ci]·g[y, x, co] is a valid cross-correlation of the input by g,
  // so Σᵢ cᵢ·∇Wᵢ is one forward convolution, which every backend has (tfjs-wasm has no Conv2D filter-gradient
  // kernel, and there the per-offset slices below cost 20× this): the batch becomes the contraction axis (input
  // [Cin, H, W, B], filter c-weighted g as [oh, ow, B, Cout]). Plain training needs only this.
  const sumOfKernelGrads = (c: tf.Tensor1D): tf.Tensor =>
    tf.transpose(
      tf.conv2d(
        tf.transpose(input, [3, 1, 2, 0]) as tf.Tensor4D,
        tf.transpose(tf.mul(g, tf.reshape(c, [-1, 1, 1, 1])), [1, 2, 0, 3]) as tf.Tensor4D,
        1,
        'valid',
      ),
      [1, 2, 0, 3],
    );
  // Every example's ∇Wᵢ, for DP-SGD's norms only, in the kernel's [kh, kw, Cin, Cout] layout, formed on demand.
  let perExample: tf.Tensor2D | null = null;
  const kernelGrads = (): tf.Tensor2D => {
    if (perExample) return perExample;
    const gFlat = tf.reshape(g, [b, oh * ow, cout]) as tf.Tensor3D;
    if (depthwiseRoute(b, oh, ow, cin, cout, kh, kw)) {
      // ∇Wᵢ[dy, dx, ci, co] = Σ_{y,x} inputᵢ[y+dy, x+dx, ci]·gᵢ[y, x, co] for every (i, ci) at once: a depthwise
      // convolution of the input as one image of B·Cin channels by g (replicated over ci) as its oh×ow filter,
      // Cout a channel. tfjs-wasm runs a 4-D Slice as a JavaScript loop (the kh·kw slices below took two thirds of
      // a CNN step there) and its Gather with a per-index check; its depthwise kernel is XNNPACK's.
      const image = tf.reshape(tf.transpose(input, [1, 2, 0, 3]), [1, input.shape[1], input.shape[2], b * cin]) as tf.Tensor4D;
      const filter = tf.reshape(tf.broadcastTo(tf.reshape(tf.transpose(g, [1, 2, 0, 3]), [oh, ow, b, 1, cout]), [oh, ow, b, cin, cout]), [
        oh,
        ow,
        b * cin,
        cout,
      ]) as tf.Tensor4D;
      const grads = tf.depthwiseConv2d(image, filter, 1, 'valid'); // [1, kh, kw, B·Cin·Cout]
      perExample = tf.reshape(tf.transpose(tf.reshape(grads, [kh, kw, b, cin * cout]), [2, 0, 1, 3]), [b, kh * kw * cin * cout]) as tf.Tensor2D;
      return perExample;
    }
    // Elsewhere one batched product per kernel offset, (B, Cin, P) × (B, P, Cout): the depthwise route lost the
    // WebGPU device under SwiftShader in e2e/webgpu.spec.ts.
    const offsets: tf.Tensor2D[] = [];
    for (let dy = 0; dy < kh; dy++)
      for (let dx = 0; dx < kw; dx++) {
        const patch = tf.reshape(tf.slice(input, [0, dy, dx, 0], [b, oh, ow, cin]), [b, oh * ow, cin]);
        offsets.push(tf.reshape(matMulT(patch as tf.Tensor3D, gFlat, true, false), [b, cin * cout]));
      }
    perExample = tf.concat(offsets, 1);
    return perExample;
  };
  const biasGrads = bias ? (tf.sum(g, [1, 2]) as tf.Tensor2D) : null;
  return {
    normsSq: () => (biasGrads ? tf.add(rowSumSq(kernelGrads()), rowSumSq(biasGrads)) : rowSumSq(kernelGrads())),
    weightedSum: (c) => {
      const w = sumOfKernelGrads(c);
      return biasGrads ? [w, weightedRowSum(c, biasGrads, [cout])] : [w];
    },
  };
}

/**
 * Σ of the rows [N, D] by their ids [N] (int32, in [0, vocabulary)) as a [vocabulary, D] matrix.
 * tf.unsortedSegmentSum where the backend has that kernel; tfjs-wasm has none, and there the rows go in id
 * order (TopK) to SparseSegmentSum, which wants sorted ids, with a zero row at id vocabulary − 1 so the result
 * has every row. Exported for the test of both routes.
 */
export function segmentRowSum(
  rows: tf.Tensor2D,
  ids: tf.Tensor1D,
  vocabulary: number,
  sorted = !tf.getKernel('UnsortedSegmentSum', tf.getBackend()),
): tf.Tensor2D {
  return tf.tidy(() => {
    if (!sorted) return tf.unsortedSegmentSum(rows, ids, vocabulary);
    const n = ids.shape[0];
    const { values, indices } = tf.topk(tf.neg(ids), n, true);
    const data = tf.concat([rows, tf.zeros([1, rows.shape[1]])]);
    const order = tf.concat([indices, tf.tensor1d([n], 'int32')]);
    const segments = tf.concat([tf.neg(values), tf.tensor1d([vocabulary - 1], 'int32')]);
    return tf.sparse.sparseSegmentSum(data, order, segments) as tf.Tensor2D;
  });
}

function embeddingBook(ids: tf.Tensor2D, g: tf.Tensor3D, kernelShape: number[]): LayerBook {
  const [vocabulary, dim] = kernelShape as [number, number];
  return {
    normsSq: () => {
      // [xᵢₜ = xᵢₜ']: the Gram of example i's one-hot rows (Li et al. 2022).
      const same = tf.cast(tf.equal(tf.expandDims(ids, 2), tf.expandDims(ids, 1)), 'float32');
      return gramInner(same, g);
    },
    weightedSum: (c) => {
      const cg = tf.reshape(tf.mul(g, tf.reshape(c, [-1, 1, 1])), [-1, dim]) as tf.Tensor2D;
      return [segmentRowSum(cg, tf.reshape(ids, [-1]) as tf.Tensor1D, vocabulary)];
    },
  };
}

/**
 * tfjs keeps the tensors its gradient tape saves for the backward pass and frees them when that pass completes;
 * a kernel that fails inside tf.valueAndGrads (a lost GPU) leaves them on the tape, allocated for good.
 */
function dropAbandonedTape(): void {
  const state = tf.engine().state;
  if (state.gradientDepth !== 0 || !state.activeTape) return;
  for (const node of state.activeTape) tf.dispose(node.saved ?? []);
  state.activeTape = [];
}

/** One forward and one backward pass (to the probes at each layer's output); call inside tf.tidy. */
function keepBooks(fm: FunctionalModel, x: tf.Tensor2D, labels: tf.Tensor2D): { books: LayerBook[]; release: () => void } {
  const b = x.shape[0];
  const probes = fm.probeShapes(b, x.shape[1]).map((s) => tf.zeros(s));
  const inputs: tf.Tensor[] = [];
  // Σᵢ Lᵢ (not the mean), so row i of ∂L/∂z is example i's own gradient.
  // The kept layer inputs are ours to free — except x itself, the caller's. tf.tidy does not free kept
  // tensors, so a failure (a lost GPU) between here and release() must free them too.
  const release = () => tf.dispose(inputs.filter((t) => t !== x));
  try {
    const { grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => {
      inputs.length = 0;
      const logits = fm.forward(x, ps, inputs, true);
      // Σᵢ −yᵢ·log softmax(zᵢ), as tf.losses.softmaxCrossEntropy with SUM computes it — not that op: its custom
      // gradient keeps its saved tensors before its last kernels run, and tfjs loses them when one of those fails.
      return tf.neg(tf.sum(tf.mul(labels, tf.logSoftmax(logits)))) as tf.Scalar;
    })(probes);
    const books = fm.layers.map((layer, l) => {
      const input = inputs[l]!;
      const g = grads[l]!;
      const bias = layer.bias !== null;
      if (layer.kind === 'dense') return denseBook(input, g, layer.kernel.shape, bias);
      if (layer.kind === 'conv2d') return convBook(input as tf.Tensor4D, g as tf.Tensor4D, layer.kernel.shape, bias);
      return embeddingBook(input as tf.Tensor2D, g as tf.Tensor3D, layer.kernel.shape);
    });
    return { books, release };
  } catch (e) {
    dropAbandonedTape();
    release();
    throw e;
  }
}

/** Runs `use` on the books of one forward and backward pass, freeing the kept layer inputs whatever happens. */
function withBooks<T>(fm: FunctionalModel, x: tf.Tensor2D, labels: tf.Tensor2D, use: (books: LayerBook[]) => T): T {
  const { books, release } = keepBooks(fm, x, labels);
  try {
    return use(books);
  } finally {
    release();
  }
}

function totalNormsSq(books: readonly LayerBook[]): tf.Tensor1D {
  return books.map((bk) => bk.normsSq()).reduce((sum, n) => tf.add(sum, n));
}

/** Squared L2 norm of each example's full gradient, from one forward and one backward pass. */
export function perExampleGradNormsSq(fm: FunctionalModel, x: tf.Tensor2D, labels: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => withBooks(fm, x, labels, totalNormsSq));
}

/**
 * Σᵢ min(1, C/‖∇Lᵢ‖)·∇Lᵢ for every trainable variable (fm.variables: the model's trainable weights, in order), by
 * ghost norms and book-keeping. Returns the gradients (caller disposes) and the per-example norms.
 */
export async function clippedGradientSum(
  fm: FunctionalModel,
  x: tf.Tensor2D,
  labels: tf.Tensor2D,
  clip: number,
): Promise<{ grads: tf.Tensor[]; norms: Float32Array }> {
  const { grads, norms } = tf.tidy(() =>
    withBooks(fm, x, labels, (books) => {
      const norms = tf.sqrt(totalNormsSq(books)) as tf.Tensor1D;
      const c = tf.minimum(1, tf.div(clip, tf.maximum(norms, 1e-12))) as tf.Tensor1D;
      return { grads: books.flatMap((bk) => bk.weightedSum(c)), norms };
    }),
  );
  try {
    const normValues = (await norms.data()) as Float32Array;
    return { grads, norms: normValues.slice() };
  } catch (e) {
    tf.dispose(grads);
    throw e;
  } finally {
    norms.dispose();
  }
}

/**
 * ∇ of the mean loss (1/B)·Σᵢ Lᵢ for every trainable variable, in fm.variables' order: the same books with cᵢ = 1/B.
 * Plain training uses this too, so every kernel gradient is our own matmuls and no backend needs a Conv2D
 * filter-gradient kernel (tfjs-wasm has none, which used to push convolutional models onto the slow CPU backend).
 */
export function meanGradient(fm: FunctionalModel, x: tf.Tensor2D, labels: tf.Tensor2D): tf.Tensor[] {
  return tf.tidy(() =>
    withBooks(fm, x, labels, (books) => {
      const c = tf.fill([x.shape[0]], 1 / x.shape[0]) as tf.Tensor1D;
      return books.flatMap((bk) => bk.weightedSum(c));
    }),
  );
}
