/**
 * The task models as explicit tensor functions over the layers' own variables, so DP-SGD can see each
 * layer's input activations and the gradient at its output (which tfjs-layers does not expose). The layers are
 * those of @hushfl/tasks layerSupport.ts, and the forward pass matches tfjs-layers exactly (Dense: x·W + b over
 * the last axis; Conv2D: valid padding, stride 1, channels last; MaxPooling2D 2×2/2; Embedding: a gather of
 * the ids cast to int32; GlobalAveragePooling1D: the mean over the sequence); a test checks it against
 * model.predict.
 *
 * A softmax on the last layer is dropped: the forward pass returns the logits, and training minimises softmax
 * cross-entropy on them — the categorical cross-entropy of the model's own softmax output, as Keras trains it.
 *
 * Each trainable layer's pre-activation gets a zero "probe" added; ∂L/∂probe is then ∂L/∂z for that layer.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type LayerConfig, modelLayerProblems } from '@hushfl/tasks';

export interface TrainableLayer {
  readonly kind: 'dense' | 'conv2d' | 'embedding';
  /** Dense and Conv2D: the kernel; Embedding: the embeddings [vocabulary, dim]. */
  readonly kernel: tf.Variable;
  /** null for a layer without one (Embedding; Dense or Conv2D with use_bias: false). */
  readonly bias: tf.Variable | null;
}

type Activation = 'relu' | 'tanh' | 'sigmoid';

type Step =
  | { readonly kind: 'trainable'; readonly layer: number }
  | { readonly kind: 'activation'; readonly fn: Activation }
  | { readonly kind: 'maxpool' | 'flatten' | 'gap1d' }
  | { readonly kind: 'reshape'; readonly shape: number[] };

/** The step of an element-wise activation; none for linear, or for the last layer's softmax (logits out). */
function activationStep(name: unknown): Step[] {
  return name === 'relu' || name === 'tanh' || name === 'sigmoid' ? [{ kind: 'activation', fn: name }] : [];
}

/**
 * 2×2 max pooling, stride 2, valid padding, as each window's first maximum (argMax, one-hot): tf.maxPool's values,
 * and under autodiff tfjs-cpu's MaxPoolGrad (all of the gradient to the first maximum, row-major) on every
 * backend. tfjs-wasm 4.22's own MaxPoolGrad loses some windows' gradient or puts it on the wrong position, which
 * trained WASM clients' convolutional models on wrong gradients and wrong per-example norms (functional.test.ts
 * checks ours on WASM against tfjs-cpu).
 */
function maxPool2x2(h: tf.Tensor4D): tf.Tensor4D {
  const [b, height, width, c] = h.shape;
  const oh = Math.floor(height / 2);
  const ow = Math.floor(width / 2);
  const even = height === 2 * oh && width === 2 * ow ? h : tf.slice(h, [0, 0, 0, 0], [b, 2 * oh, 2 * ow, c]);
  // [B, oh, ow, C, 4]: each window's (dy, dx) in row-major order, the order tfjs scans a window in.
  const windows = tf.reshape(tf.transpose(tf.reshape(even, [b, oh, 2, ow, 2, c]), [0, 1, 3, 5, 2, 4]), [b, oh, ow, c, 4]);
  // int32, then cast: tfjs-wasm's OneHot writes wrong values for a float32 dtype.
  const first = tf.cast(tf.oneHot(tf.argMax(windows, -1), 4), 'float32');
  return tf.sum(tf.mul(windows, first), -1) as tf.Tensor4D;
}

export class FunctionalModel {
  readonly layers: TrainableLayer[] = [];
  /** Every trainable variable in the model's order (model.trainableWeights): the order of the books' gradients. */
  readonly variables: tf.Variable[] = [];
  /** Whether the model's last layer ends in a softmax, which forward() leaves out (it returns the logits). */
  readonly droppedSoftmax: boolean;
  private readonly steps: Step[] = [];
  /** Each trainable layer's output shape less the batch dimension, per input width (weights do not change it). */
  private readonly shapes = new Map<number, number[][]>();

  /** Throws an Error naming every layer that cannot train here (layerSupport.ts) and why. */
  constructor(model: tfl.LayersModel) {
    const layers = model.layers.map((layer) => ({ layer, className: layer.getClassName(), config: layer.getConfig() as LayerConfig }));
    const problems = modelLayerProblems(layers).flatMap((ps, i) => ps.map((p) => `${layers[i]!.layer.name} (${layers[i]!.className}): ${p}`));
    if (model.inputs.length !== 1 || model.outputs.length !== 1) problems.push('the model must have one input and one output');
    else if (model.outputs[0]!.shape.length !== 2)
      problems.push(`the model must output [batch, classes] logits, not ${JSON.stringify(model.outputs[0]!.shape)}`);
    if (problems.length) throw new Error(`the model cannot train with DP-SGD here:\n  ${problems.join('\n  ')}`);
    const lastActivation = layers.at(-1)?.config.activation;
    this.droppedSoftmax = lastActivation === 'softmax';
    for (const { layer, className, config } of layers) {
      const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      if (className === 'Dense' || className === 'Conv2D' || className === 'Embedding') {
        const kind = className === 'Dense' ? 'dense' : className === 'Conv2D' ? 'conv2d' : 'embedding';
        // [kernel, bias], or [kernel] alone (Embedding; Dense and Conv2D with use_bias: false).
        this.layers.push({ kind, kernel: vars[0]!, bias: vars[1] ?? null });
        this.variables.push(...vars);
        this.steps.push({ kind: 'trainable', layer: this.layers.length - 1 }, ...activationStep(config.activation));
      } else if (className === 'Activation') this.steps.push(...activationStep(config.activation));
      else if (className === 'MaxPooling2D') this.steps.push({ kind: 'maxpool' });
      else if (className === 'Flatten') this.steps.push({ kind: 'flatten' });
      else if (className === 'GlobalAveragePooling1D') this.steps.push({ kind: 'gap1d' });
      else if (className === 'Reshape') this.steps.push({ kind: 'reshape', shape: (config.targetShape as number[]).slice() });
      // InputLayer: nothing to compute.
    }
    // Callers zip the gradients with model.trainableWeights; a mismatch would update the wrong variables.
    const want = model.trainableWeights.map((w) => w.read());
    if (want.length !== this.variables.length || want.some((v, i) => v !== this.variables[i]))
      throw new Error('the model has trainable weights outside its Dense, Conv2D and Embedding layers');
  }

  /**
   * Logits for x (pre-softmax where the model ends in one); `probes[l]` (zeros) is added to layer l's
   * pre-activation. Each trainable layer's input is pushed to `trace` (an Embedding's: the int32 ids), kept
   * alive (tf.keep) when `keepTrace` is set — gradient functions dispose their intermediates — in which case the
   * caller disposes them.
   */
  forward(x: tf.Tensor2D, probes?: readonly tf.Tensor[], trace?: tf.Tensor[], keepTrace = false): tf.Tensor2D {
    return this.run(x, probes, trace, keepTrace);
  }

  private run(x: tf.Tensor2D, probes?: readonly tf.Tensor[], trace?: tf.Tensor[], keepTrace = false, outShapes?: number[][]): tf.Tensor2D {
    let h: tf.Tensor = x;
    for (const s of this.steps) {
      switch (s.kind) {
        case 'trainable': {
          const l = this.layers[s.layer]!;
          if (l.kind === 'embedding') h = tf.cast(h, 'int32');
          trace?.push(keepTrace ? tf.keep(h) : h);
          h = this.affine(l, h);
          outShapes?.push(h.shape.slice(1));
          if (probes) h = tf.add(h, probes[s.layer]!);
          break;
        }
        case 'activation':
          h = s.fn === 'relu' ? tf.relu(h) : s.fn === 'tanh' ? tf.tanh(h) : tf.sigmoid(h);
          break;
        case 'reshape':
          h = tf.reshape(h, [h.shape[0]!, ...s.shape]);
          break;
        case 'maxpool':
          h = maxPool2x2(h as tf.Tensor4D);
          break;
        case 'flatten':
          h = tf.reshape(h, [h.shape[0]!, -1]);
          break;
        case 'gap1d':
          h = tf.mean(h, 1);
          break;
      }
    }
    return h as tf.Tensor2D;
  }

  /** A trainable layer's pre-activation output. */
  private affine(l: TrainableLayer, h: tf.Tensor): tf.Tensor {
    if (l.kind === 'embedding') return tf.gather(l.kernel, h);
    if (l.kind === 'conv2d') return this.withBias(tf.conv2d(h as tf.Tensor4D, l.kernel as tf.Tensor4D, 1, 'valid'), l);
    const [inputs, units] = l.kernel.shape as [number, number];
    // Over the last axis, as tfjs-layers applies a Dense layer to an input of rank > 2 (a sequence).
    const z =
      h.rank === 2
        ? tf.matMul(h as tf.Tensor2D, l.kernel as tf.Tensor2D)
        : tf.reshape(tf.matMul(tf.reshape(h, [-1, inputs]), l.kernel as tf.Tensor2D), [...h.shape.slice(0, -1), units]);
    return this.withBias(z, l);
  }

  private withBias(z: tf.Tensor, l: TrainableLayer): tf.Tensor {
    return l.bias ? tf.add(z, l.bias) : z;
  }

  /** Output shape of each trainable layer for a batch of `b` (for the zero probes). */
  probeShapes(b: number, features: number): number[][] {
    let shapes = this.shapes.get(features);
    if (!shapes) {
      const found: number[][] = [];
      // All-zero input: valid pixels and valid token ids (id 0) alike.
      tf.tidy(() => {
        this.run(tf.zeros([1, features]) as tf.Tensor2D, undefined, undefined, false, found);
      });
      this.shapes.set(features, found);
      shapes = found;
    }
    return shapes.map((s) => [b, ...s]);
  }
}
