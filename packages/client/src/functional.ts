/**
 * The task models as explicit tensor functions over the layers' own variables, so DP-SGD can see each
 * layer's input activations and the gradient at its output (which tfjs-layers does not expose). The forward
 * pass matches tfjs-layers exactly (Dense: x·W + b; Conv2D: valid padding, stride 1, channels last;
 * MaxPooling2D 2×2/2); a test checks the logits against model.predict.
 *
 * Each trainable layer's pre-activation gets a zero "probe" added; ∂L/∂probe is then ∂L/∂z for that layer.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

export interface TrainableLayer {
  readonly kind: 'dense' | 'conv2d';
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;
}

export interface ForwardTrace {
  readonly logits: tf.Tensor2D;
  /** Input of each trainable layer (dense: [B, in]; conv2d: [B, H, W, Cin]). */
  readonly inputs: tf.Tensor[];
}

interface Step {
  readonly kind: 'dense' | 'conv2d' | 'relu' | 'maxpool' | 'flatten' | 'reshape';
  readonly layer?: number;
  readonly shape?: number[];
}

export class FunctionalModel {
  readonly layers: TrainableLayer[] = [];
  private readonly steps: Step[] = [];

  constructor(model: tfl.LayersModel) {
    for (const layer of model.layers) {
      const cls = layer.getClassName();
      const cfg = layer.getConfig() as { activation?: string; targetShape?: number[]; poolSize?: number[]; strides?: number[]; padding?: string };
      const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      if (cls === 'Dense' || cls === 'Conv2D') {
        if (cls === 'Conv2D' && cfg.padding !== 'valid') throw new Error('only valid-padding convolutions are supported');
        this.layers.push({ kind: cls === 'Dense' ? 'dense' : 'conv2d', kernel: vars[0]!, bias: vars[1]! });
        this.steps.push({ kind: cls === 'Dense' ? 'dense' : 'conv2d', layer: this.layers.length - 1 });
        if (cfg.activation === 'relu') this.steps.push({ kind: 'relu' });
        else if (cfg.activation !== 'linear') throw new Error(`unsupported activation ${cfg.activation}`);
      } else if (cls === 'MaxPooling2D') this.steps.push({ kind: 'maxpool' });
      else if (cls === 'Flatten') this.steps.push({ kind: 'flatten' });
      else if (cls === 'Reshape') this.steps.push({ kind: 'reshape', shape: cfg.targetShape! });
      else throw new Error(`unsupported layer ${cls}`);
    }
  }

  /**
   * Logits for x; `probes[l]` (zeros) is added to layer l's pre-activation. Layer inputs are pushed to
   * `trace`, kept alive (tf.keep) when `keepTrace` is set — gradient functions dispose their intermediates —
   * in which case the caller disposes them.
   */
  forward(x: tf.Tensor2D, probes?: readonly tf.Tensor[], trace?: tf.Tensor[], keepTrace = false): tf.Tensor2D {
    let h: tf.Tensor = x;
    for (const s of this.steps) {
      switch (s.kind) {
        case 'reshape':
          h = tf.reshape(h, [h.shape[0]!, ...s.shape!]);
          break;
        case 'dense':
        case 'conv2d': {
          const l = this.layers[s.layer!]!;
          trace?.push(keepTrace ? tf.keep(h) : h);
          h =
            s.kind === 'dense'
              ? tf.add(tf.matMul(h as tf.Tensor2D, l.kernel as tf.Tensor2D), l.bias)
              : tf.add(tf.conv2d(h as tf.Tensor4D, l.kernel as tf.Tensor4D, 1, 'valid'), l.bias);
          if (probes) h = tf.add(h, probes[s.layer!]!);
          break;
        }
        case 'relu':
          h = tf.relu(h);
          break;
        case 'maxpool':
          h = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid');
          break;
        case 'flatten':
          h = tf.reshape(h, [h.shape[0]!, -1]);
          break;
      }
    }
    return h as tf.Tensor2D;
  }

  /** Output shape of each trainable layer for a batch of `b` (for the zero probes). */
  probeShapes(b: number, features: number): number[][] {
    return tf.tidy(() => {
      const trace: tf.Tensor[] = [];
      const shapes: number[][] = [];
      const x = tf.zeros([b, features]) as tf.Tensor2D;
      this.forward(x, undefined, trace);
      for (let i = 0; i < this.layers.length; i++) {
        const l = this.layers[i]!;
        const input = trace[i]!;
        if (l.kind === 'dense') shapes.push([b, l.kernel.shape[1]!]);
        else {
          const [kh, kw] = l.kernel.shape as number[];
          shapes.push([b, input.shape[1]! - kh! + 1, input.shape[2]! - kw! + 1, l.kernel.shape[3]!]);
        }
      }
      return shapes;
    });
  }
}
