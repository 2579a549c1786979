/**
 * Test support (not exported from the package): TensorFlow.js on the WASM backend in Node, and synthetic
 * digit-shaped data — ten class prototypes plus noise — that a model can learn in a few steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chachaRandomWords } from '@hushfl/ddp';
import { CLASSES, FEATURES, type Dataset } from '@hushfl/tasks';

export async function initTestTf(): Promise<string> {
  if (tf.getBackend() === 'wasm') return 'wasm';
  const require = createRequire(import.meta.url);
  setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`);
  const before = process.listeners('uncaughtException');
  const beforeRej = process.listeners('unhandledRejection');
  await tf.setBackend('wasm');
  await tf.ready();
  for (const l of process.listeners('uncaughtException')) if (!before.includes(l)) process.removeListener('uncaughtException', l);
  for (const l of process.listeners('unhandledRejection')) if (!beforeRej.includes(l)) process.removeListener('unhandledRejection', l);
  return tf.getBackend();
}

/** n examples of 10 separable classes (prototype + noise), seeded. */
export function syntheticDigits(n: number, seed: number): Dataset {
  const s = new Uint8Array(32);
  s[0] = seed;
  const rw = chachaRandomWords(s);
  const protoSeed = new Uint8Array(32).fill(99);
  const proto = chachaRandomWords(protoSeed);
  const prototypes = Array.from({ length: CLASSES }, () => Float32Array.from({ length: FEATURES }, () => (proto.next() % 2 ? 0.9 : 0.1)));
  const x = new Float32Array(n * FEATURES);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = rw.next() % CLASSES;
    labels[i] = c;
    for (let k = 0; k < FEATURES; k++) x[i * FEATURES + k] = Math.min(1, Math.max(0, prototypes[c]![k]! + (rw.next() / 2 ** 32 - 0.5) * 0.6));
  }
  return { n, features: FEATURES, classes: CLASSES, x, labels };
}
