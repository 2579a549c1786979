/**
 * Tensors are disposed every round (issue 13 §5): LocalTrainer — the training Worker's code path — trains
 * round after round on WASM with tf.memory() flat, and a training that fails anywhere (a kernel that throws, a
 * read-back that rejects: what a lost GPU does) leaves nothing behind once the trainer drops its model, as the
 * Worker does before it falls back to the next backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ModelSpec } from '@hushfl/protocol';
import { buildModel, getFlatWeights, MNIST_SHAPE } from '@hushfl/tasks';
import { initTestTf, syntheticDigits } from './testing.ts';
import { LocalTrainer, type TrainRequest } from './trainer.ts';

beforeAll(async () => {
  await initTestTf();
});

const memory = () => {
  const m = tf.memory();
  return { numTensors: m.numTensors, numBytes: m.numBytes };
};

const mlp: ModelSpec = { kind: 'mlp', hidden: [16] };
const cnn: ModelSpec = { kind: 'cnn', filters: 2, kernel: 5, dense: 0 };
const dpsgd = { clip: 1, noiseMultiplier: 1.1, delta: 1e-5 };

async function requestFor(spec: ModelSpec, dp: TrainRequest['dpsgd']): Promise<TrainRequest> {
  const m = buildModel(spec, MNIST_SHAPE);
  const global = await getFlatWeights(m);
  m.dispose();
  return { spec, task: 'mnist', global, training: { epochs: 1, batchSize: 8, learningRate: 0.1 }, dpsgd: dp, miniClient: 0 };
}

describe('LocalTrainer memory', () => {
  for (const [name, spec, dp] of [
    ['MLP, SGD', mlp, null],
    ['MLP, DP-SGD (Poisson)', mlp, { ...dpsgd, sampling: 'poisson' as const }],
    ['CNN, SGD', cnn, null],
    ['CNN, DP-SGD (fixed batches)', cnn, { ...dpsgd, sampling: 'fixed' as const }],
  ] as const) {
    it(`${name}: tf.memory() is the same after every round, and back where it was once the trainer is disposed`, async () => {
      const before = memory();
      const trainer = new LocalTrainer([syntheticDigits(24, 1), syntheticDigits(24, 2)], tf.getBackend());
      let req = await requestFor(spec, dp);
      const after: ReturnType<typeof memory>[] = [];
      for (let round = 0; round < 4; round++) {
        for (let j = 0; j < trainer.miniClients; j++) {
          const out = await trainer.train({ ...req, miniClient: j });
          expect(out.delta.length).toBe(req.global.length);
        }
        after.push(memory());
        // The next round starts from moved weights, as a real run's does.
        req = { ...req, global: req.global.map((w, i) => w + 1e-3 * Math.sin(i + round)) };
      }
      // The trainer keeps its model between rounds: more than before, never growing.
      expect(after[0]!.numTensors).toBeGreaterThan(before.numTensors);
      expect(after.slice(1)).toEqual(after.slice(0, -1));
      trainer.dispose();
      expect(memory()).toEqual(before);
    });
  }
});

type Fault = { kind: 'kernel' | 'read'; at: number };

/**
 * Counts kernel runs and tensor reads; throws (or rejects) at the `at`-th of the faulted kind. Identity is not
 * faulted: it shares its input's buffer on the GPU backends, so no device fails it (tfjs clones the tensors a
 * gradient saves with it, and would itself lose a half-saved clone).
 */
function injectFaults(): { counts: () => { kernel: number; read: number }; arm: (f: Fault | null) => void; restore: () => void } {
  const engine = tf.engine();
  const runKernel = engine.runKernel;
  const data = tf.Tensor.prototype.data;
  let fault: Fault | null = null;
  let kernel = 0;
  let read = 0;
  engine.runKernel = function (this: typeof engine, ...args: Parameters<typeof runKernel>) {
    if (args[0] !== 'Identity' && ++kernel === fault?.at && fault.kind === 'kernel') throw new Error('injected: kernel failed on a lost device');
    return runKernel.apply(this, args);
  } as typeof runKernel;
  tf.Tensor.prototype.data = function (this: tf.Tensor) {
    if (++read === fault?.at && fault.kind === 'read') return Promise.reject(new Error('injected: mapAsync failed, device lost'));
    return data.call(this);
  } as typeof data;
  return {
    counts: () => ({ kernel, read }),
    arm: (f) => {
      fault = f;
      kernel = 0;
      read = 0;
    },
    restore: () => {
      engine.runKernel = runKernel;
      tf.Tensor.prototype.data = data;
    },
  };
}

/** Up to `n` points spread over 1..total, both ends included. */
const spread = (total: number, n: number) => [...new Set(Array.from({ length: n }, (_, i) => 1 + Math.round((i * (total - 1)) / (n - 1))))];

describe('a training failure leaves no tensor behind', () => {
  let faults: ReturnType<typeof injectFaults> | null = null;
  afterEach(() => faults?.restore());

  for (const [name, spec, dp] of [
    ['MLP, SGD', mlp, null],
    ['MLP, DP-SGD', mlp, { ...dpsgd, sampling: 'poisson' as const }],
    ['CNN, DP-SGD', cnn, { ...dpsgd, sampling: 'fixed' as const }],
  ] as const) {
    it(`${name}: a kernel that throws or a read that rejects, at any point of a round`, async () => {
      const data = [syntheticDigits(20, 3)];
      const req = await requestFor(spec, dp);
      faults = injectFaults();
      // A round of a new model (as after a switch) and one of a kept model: how many kernels and reads each runs.
      const probe = new LocalTrainer(data, tf.getBackend());
      faults.arm(null);
      await probe.train(req);
      const firstRound = faults.counts();
      faults.arm(null);
      await probe.train(req);
      const laterRound = faults.counts();
      probe.dispose();
      expect(Math.min(firstRound.kernel, laterRound.kernel, laterRound.read)).toBeGreaterThan(0);

      const cases: (Fault & { warm: boolean })[] = [
        ...spread(firstRound.kernel, 24).map((at) => ({ kind: 'kernel' as const, at, warm: false })),
        ...spread(laterRound.kernel, 24).map((at) => ({ kind: 'kernel' as const, at, warm: true })),
        ...spread(laterRound.read, 6).map((at) => ({ kind: 'read' as const, at, warm: true })),
      ];
      for (const c of cases) {
        const before = memory();
        const trainer = new LocalTrainer(data, tf.getBackend());
        if (c.warm) await trainer.train(req);
        faults.arm(c);
        await expect(trainer.train(req), `${c.kind} ${c.at}`).rejects.toThrow(/^injected/);
        faults.arm(null);
        trainer.dispose();
        expect(memory(), `${c.warm ? 'kept' : 'new'} model, ${c.kind} failure ${c.at}`).toEqual(before);
      }
    });
  }
});
