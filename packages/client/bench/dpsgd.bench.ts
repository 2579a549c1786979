/**
 * DP-SGD per-example clipping: ghost norms + book-keeping (one backward pass per batch) against the naive loop (one
 * backward pass per example), per step of batch 32, each on the same backend: the MLP on WASM, the CNN on CPU.
 * The CNN also runs book-kept on WASM, where the naive loop cannot (tfjs-wasm has no Conv2D filter-gradient
 * kernel; ours needs none), which is how clients without WebGPU/WebGL train it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelSpec } from '@hushfl/protocol';
import { figure, medianMs, type Figure } from '../../../bench/lib.ts';
import { buildModel, MNIST_SHAPE } from '@hushfl/tasks';
import { FunctionalModel, dpsgdStep, dpsgdStepNaive } from '../src/index.ts';
import { initTestTf, syntheticDigits } from '../src/testing.ts';

export async function benchDpsgd(): Promise<Figure[]> {
  const figures: Figure[] = [];
  const batch = 32;
  const data = syntheticDigits(batch, 1);
  const idx = Array.from({ length: batch }, (_, i) => i);
  const dp = { clip: 1, noiseMultiplier: 1, sampling: 'fixed' as const };
  const cnn: ModelSpec = { kind: 'cnn', filters: 8, kernel: 5, dense: 0 };
  const cases: [ModelSpec, 'wasm' | 'cpu', boolean][] = [
    [{ kind: 'mlp', hidden: [64] }, 'wasm', true],
    [cnn, 'cpu', true],
    [cnn, 'wasm', false],
  ];
  for (const [spec, backend, withNaive] of cases) {
    if (backend === 'wasm') await initTestTf();
    else await tf.setBackend('cpu');
    const model = buildModel(spec, MNIST_SHAPE);
    const fm = new FunctionalModel(model);
    const opt = tf.train.sgd(0.01);
    const ghost = await medianMs(() => dpsgdStep(fm, opt, data, idx, batch, dp), 7, 2);
    const inputs = { model: spec.kind, params: model.countParams(), batch, backend };
    figures.push(figure({ name: 'dpsgd-step-ghost', inputs, value: ghost, unit: 'ms' }));
    let line = `  dpsgd ${spec.kind}/${backend}: ghost ${ghost.toFixed(1)} ms`;
    if (withNaive) {
      const naive = await medianMs(() => dpsgdStepNaive(model, opt, data, idx, batch, dp), 5, 1);
      figures.push(figure({ name: 'dpsgd-step-naive', inputs, value: naive, unit: 'ms' }));
      figures.push(figure({ name: 'dpsgd-ghost-speedup', inputs, value: naive / ghost, unit: '×' }));
      line += `, naive ${naive.toFixed(1)} ms`;
    }
    model.dispose();
    process.stderr.write(`${line} per step of ${batch}\n`);
  }
  return figures;
}
