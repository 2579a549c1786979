/**
 * Per-example gradient norms without per-example gradients, and the clipped gradient sum in one extra
 * backward pass — the "ghost clipping" of Goodfellow (2015) and Lee & Kifer (2021), for the task's layer types:
 *
 * - Dense (z = a·W + b): example i's weight gradient is the outer product aᵢᵀgᵢ, so
 *   ‖∇W‖² = ‖aᵢ‖²·‖gᵢ‖² and ‖∇b‖² = ‖gᵢ‖², with gᵢ = ∂Lᵢ/∂zᵢ.
 * - Conv2D: ∇W = Σₚ patchᵢₚᵀ gᵢₚ over output positions p. For the small kernels here it is cheaper to form
 *   it per example (Lee & Kifer's rule: when T² > k²·Cin·Cout) with one batched matmul per kernel offset;
 *   ‖∇b‖² = ‖Σₚ gᵢₚ‖².
 *
 * Then cᵢ = min(1, C/‖∇Lᵢ‖) and ∇(Σᵢ cᵢ·Lᵢ) = Σᵢ cᵢ·∇Lᵢ is the clipped sum, by a second backward pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FunctionalModel } from './functional.ts';

function rowSumSq(t: tf.Tensor): tf.Tensor1D {
  return tf.sum(tf.square(tf.reshape(t, [t.shape[0]!, -1])), 1) as tf.Tensor1D;
}

/** Per-example squared norms of the conv kernel gradient, formed explicitly (small kernels). */
function convKernelNormSq(input: tf.Tensor4D, g: tf.Tensor4D, kh: number, kw: number): tf.Tensor1D {
  const [b, , , cin] = input.shape;
  const [, oh, ow, cout] = g.shape;
  const gFlat = tf.reshape(g, [b, oh * ow, cout]);
  let total: tf.Tensor1D = tf.zeros([b]);
  for (let dy = 0; dy < kh; dy++) {
    for (let dx = 0; dx < kw; dx++) {
      const patch = tf.reshape(tf.slice(input, [0, dy, dx, 0], [b, oh, ow, cin]), [b, oh * ow, cin]);
      // (B, Cin, P) × (B, P, Cout) → (B, Cin, Cout): this offset's slice of every example's kernel gradient.
      const grad = tf.matMul(patch, gFlat, true, false);
      total = tf.add(total, rowSumSq(grad));
    }
  }
  return total;
}

/** Squared L2 norm of each example's full gradient, from one forward and one backward pass. */
export function perExampleGradNormsSq(fm: FunctionalModel, x: tf.Tensor2D, labels: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const b = x.shape[0];
    const probes = fm.probeShapes(b, x.shape[1]).map((s) => tf.zeros(s));
    const inputs: tf.Tensor[] = [];
    // Σᵢ Lᵢ (not the mean), so row i of ∂L/∂z is example i's own gradient.
    const { grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => {
      inputs.length = 0;
      const logits = fm.forward(x, ps, inputs, true);
      return tf.losses.softmaxCrossEntropy(labels, logits, undefined, 0, tf.Reduction.SUM) as tf.Scalar;
    })(probes);
    let total: tf.Tensor1D = tf.zeros([b]);
    fm.layers.forEach((layer, l) => {
      const g = grads[l]!;
      const a = inputs[l]!;
      if (layer.kind === 'dense') {
        total = tf.add(total, tf.add(tf.mul(rowSumSq(a), rowSumSq(g)), rowSumSq(g)));
      } else {
        const [kh, kw] = layer.kernel.shape as number[];
        total = tf.add(total, convKernelNormSq(a as tf.Tensor4D, g as tf.Tensor4D, kh!, kw!));
        total = tf.add(total, rowSumSq(tf.sum(g, [1, 2])));
      }
    });
    // The kept layer inputs are ours to free — except x itself, the caller's.
    tf.dispose(inputs.filter((t) => t !== x));
    return total;
  });
}

/**
 * Σᵢ min(1, C/‖∇Lᵢ‖)·∇Lᵢ for every trainable variable, by ghost norms and one re-weighted backward pass.
 * Returns the gradients (caller disposes) and the per-example norms.
 */
export async function clippedGradientSum(fm: FunctionalModel, x: tf.Tensor2D, labels: tf.Tensor2D, clip: number): Promise<{ grads: tf.Tensor[]; norms: Float32Array }> {
  const normsSq = perExampleGradNormsSq(fm, x, labels);
  const norms = tf.tidy(() => tf.sqrt(normsSq));
  const normValues = (await norms.data()) as Float32Array;
  const weights = tf.tidy(() => tf.minimum(tf.onesLike(norms), tf.div(clip, tf.maximum(norms, 1e-12))));
  const vars = fm.layers.flatMap((l) => [l.kernel, l.bias]);
  const { grads } = tf.variableGrads(() => {
    const perExample = tf.losses.softmaxCrossEntropy(labels, fm.forward(x), undefined, 0, tf.Reduction.NONE);
    return tf.sum(tf.mul(perExample, weights)) as tf.Scalar;
  }, vars);
  const out = vars.map((v) => grads[v.name]!);
  tf.dispose([normsSq, norms, weights]);
  return { grads: out, norms: normValues.slice() };
}
