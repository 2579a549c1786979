/**
 * Federated evaluation on the client (issue 14 §5): the held-out split is fixed per shard and never trained
 * on, the sums are bounded (N_max examples, loss clipped to L_max), and through the real runtime, encoder,
 * SecAgg and RoundEngine a round's decoded totals are the sums of the clients' own metrics.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { FEDERATED_METRICS, metricUnitsPerCoordinate } from '@hushfl/ddp';
import type { RoundSetup } from '@hushfl/engine';
import { buildModel, evaluate, getFlatWeights, setFlatWeights, subset, MNIST_SHAPE } from '@hushfl/tasks';
import { boundedEvaluation, evenlySpread, heldOutSplit } from './federatedMetrics.ts';
import { inMemoryClient, runRoundInMemory, type InMemoryClient } from './inMemoryRound.ts';
import { ClientRuntime } from './runtime.ts';
import { initTestTf, syntheticDigits } from './testing.ts';
import { LocalTrainer, type Trainer, type TrainOutput, type TrainRequest } from './trainer.ts';

beforeAll(async () => {
  await initTestTf();
});

const spec = { kind: 'mlp' as const, hidden: [8] };
const EVALUATION = { fraction: 0.1, maxExamples: 1000, maxLoss: 10, normShare: 0.25 };

describe('the held-out split', () => {
  it('evenlySpread picks exactly h of n, in order, one in every n/h', () => {
    for (const [n, h] of [
      [10, 1],
      [64, 6],
      [100, 10],
      [7, 7],
      [5, 0],
      [1000, 333],
    ] as const) {
      const idx = evenlySpread(n, h);
      expect(idx.length).toBe(h);
      for (let i = 1; i < idx.length; i++) expect(idx[i]!).toBeGreaterThan(idx[i - 1]!);
      if (h > 0) expect(idx[h - 1]).toBeLessThan(n);
      // Spread: consecutive picks are ⌊n/h⌋ or ⌈n/h⌉ apart.
      for (let i = 1; i < idx.length; i++) expect(Math.abs(idx[i]! - idx[i - 1]! - n / h)).toBeLessThan(1);
    }
    expect(() => evenlySpread(3, 4)).toThrow(RangeError);
  });

  it('is ⌊n·fraction⌋ examples, disjoint from the training part, and the same for the same shard every time', () => {
    const data = syntheticDigits(64, 5);
    const a = heldOutSplit(data, 0.1);
    expect(a.heldOut.n).toBe(6);
    expect(a.train.n).toBe(58);
    expect(heldOutSplit(data, 0.1)).toBe(a); // kept: no copy per round
    // The same shard received again (a reload, another device): the same examples by position.
    const again = heldOutSplit({ ...data, x: data.x.slice(), labels: data.labels.slice() }, 0.1);
    expect(again.heldOut.x).toEqual(a.heldOut.x);
    expect(again.train.labels).toEqual(a.train.labels);
    // Disjoint and complete: every example is in exactly one part.
    const rows = (d: typeof data) => Array.from({ length: d.n }, (_, i) => `${d.labels[i]}:${d.x.subarray(i * d.features, (i + 1) * d.features).join(',')}`);
    const all = rows(data).sort();
    expect([...rows(a.heldOut), ...rows(a.train)].sort()).toEqual(all);
    // A shard of one example keeps it for training.
    expect(heldOutSplit(syntheticDigits(1, 6), 0.5).heldOut.n).toBe(0);
    expect(() => heldOutSplit(data, 0.6)).toThrow(RangeError);
  });
});

describe('boundedEvaluation', () => {
  it('equals the plain evaluation when nothing is clipped, and bounds the sums when it is', async () => {
    const model = buildModel(spec, MNIST_SHAPE);
    const data = syntheticDigits(300, 7);
    const plain = await evaluate(model, data);
    const s = await boundedEvaluation(model, data, { maxExamples: 1000, maxLoss: 1000 });
    expect(s.examples).toBe(300);
    expect(s.correct / 300).toBeCloseTo(plain.accuracy, 10);
    expect(s.lossSum / 300).toBeCloseTo(plain.loss, 4);
    // At most N_max examples, spread over the data.
    const capped = await boundedEvaluation(model, data, { maxExamples: 50, maxLoss: 1000 });
    expect(capped.examples).toBe(50);
    const expected = await boundedEvaluation(model, subset(data, evenlySpread(300, 50)), { maxExamples: 1000, maxLoss: 1000 });
    expect(capped).toEqual(expected);
    // Every example's loss clipped to L_max.
    const clipped = await boundedEvaluation(model, data, { maxExamples: 1000, maxLoss: 0.01 });
    expect(clipped.lossSum).toBeLessThanOrEqual(300 * 0.01 + 1e-9);
    expect(clipped.lossSum).toBeCloseTo(300 * 0.01, 6); // every loss is above 0.01 for an untrained model
    model.dispose();
  });
});

describe('LocalTrainer with federated evaluation', () => {
  it('evaluates the global model on the held-out split, trains only on the rest and measures its training', async () => {
    const data = syntheticDigits(80, 8);
    const model = buildModel(spec, MNIST_SHAPE);
    const global = await getFlatWeights(model);
    const trainer = new LocalTrainer([data], tf.getBackend());
    const req: TrainRequest = {
      spec,
      task: 'mnist',
      global,
      training: { epochs: 1, batchSize: 16, learningRate: 0.1 },
      dpsgd: null,
      miniClient: 0,
      evaluation: EVALUATION,
    };
    const out = await trainer.train(req);
    const split = heldOutSplit(data, 0.1);
    expect(out.examples).toBe(72); // trained on the 72 not held out
    expect(out.metrics!.heldOut).toEqual(await boundedEvaluation(model, split.heldOut, EVALUATION)); // `model` still has the global weights
    setFlatWeights(
      model,
      Float32Array.from(global, (w, i) => w + out.delta[i]!),
    );
    // global + delta is the trained model up to float32 rounding: counts exact, the loss sum nearly.
    const trained = await boundedEvaluation(model, split.train, EVALUATION);
    expect(out.metrics!.train.examples).toBe(72);
    expect(out.metrics!.train.correct).toBe(trained.correct);
    expect(out.metrics!.train.lossSum).toBeCloseTo(trained.lossSum, 3);
    const without = await trainer.train({ ...req, evaluation: null });
    expect(without.examples).toBe(80);
    expect(without.metrics).toBeNull();
    trainer.dispose();
    model.dispose();
  });
});

/** A trainer that records what it measured: the test may know each client's metrics, the coordinator must not. */
class Recording implements Trainer {
  readonly outputs: TrainOutput[] = [];
  constructor(private readonly inner: Trainer) {}
  get miniClients() {
    return this.inner.miniClients;
  }
  get backend() {
    return this.inner.backend;
  }
  async train(req: TrainRequest): Promise<TrainOutput> {
    const out = await this.inner.train(req);
    this.outputs.push(out);
    return out;
  }
  dispose() {
    this.inner.dispose();
  }
}

describe('client runtimes with the round engine and federated evaluation, in memory', () => {
  it('the released totals are the sums of every mini-client’s own metrics, and the model part is the mean of updates clipped to √(c² − c_m²)', async () => {
    const trainers = new Map<string, Recording>();
    const clipped = new Map<string, Float32Array[]>();
    const clients = new Map<string, InMemoryClient>();
    let seed = 20;
    for (const [id, k] of Object.entries({ a: 1, b: 1, c: 2 })) {
      const data = Array.from({ length: k }, (_, j) => syntheticDigits(50 + 10 * j, seed++));
      const t = new Recording(new LocalTrainer(data, tf.getBackend()));
      trainers.set(id, t);
      clients.set(
        id,
        inMemoryClient(
          id,
          (host) => new ClientRuntime(t, host),
          (_r, c) => clipped.set(id, [...c]),
        ),
      );
    }
    const model = buildModel(spec, MNIST_SHAPE);
    const weights = await getFlatWeights(model);
    model.dispose();
    const d = weights.length;
    const setup: RoundSetup = {
      runId: 'fed',
      round: 0,
      attempt: 1,
      parties: [
        { clientId: 'a', contributions: 1 },
        { clientId: 'b', contributions: 1 },
        { clientId: 'c', contributions: 2 },
      ],
      modelSpec: spec,
      task: 'mnist',
      weights,
      training: { epochs: 1, batchSize: 16, learningRate: 0.1 },
      dpsgd: null,
      ddg: { dim: d + FEDERATED_METRICS, clip: 1, gamma: 1e-6, beta: 0, bits: 32, localStddev: 0 },
      evaluation: EVALUATION,
      secagg: { dropoutRate: 0.1, corruptRate: 0.1, maxColluders: 1 },
      deadlinesMs: { 'advertise-keys': 1, 'share-keys': 1, 'masked-input': 1, 'consistency-check': 1, unmasking: 1 },
      minParties: 3,
      rotationSeed: globalThis.crypto.getRandomValues(new Uint8Array(32)),
      graphValue: globalThis.crypto.getRandomValues(new Uint8Array(32)),
    };
    const outcome = await runRoundInMemory(setup, clients);
    expect(outcome.kind).toBe('released');
    if (outcome.kind !== 'released') return;
    expect(outcome.mean.length).toBe(d);
    const want = { heldOut: { lossSum: 0, correct: 0, examples: 0 }, train: { lossSum: 0, correct: 0, examples: 0 } };
    for (const t of trainers.values())
      for (const o of t.outputs)
        for (const part of ['heldOut', 'train'] as const)
          for (const key of ['lossSum', 'correct', 'examples'] as const) want[part][key] += o.metrics![part][key];
    expect(want.heldOut.examples).toBe(5 + 5 + 5 + 6);
    const got = outcome.federated!;
    const units = metricUnitsPerCoordinate(1, EVALUATION);
    const tol = 16 * setup.ddg.gamma * Math.sqrt(4);
    for (const part of ['heldOut', 'train'] as const) {
      expect(Math.abs(got[part].examples - want[part].examples)).toBeLessThan(tol * units.count);
      expect(Math.abs(got[part].correct - want[part].correct)).toBeLessThan(tol * units.count);
      expect(Math.abs(got[part].lossSum - want[part].lossSum)).toBeLessThan(tol * units.loss);
    }
    // Each runtime kept its own held-out figures, on the device.
    const rec = clients.get('c')!.runtime.metrics.rounds[0]!;
    const own = trainers.get('c')!.outputs;
    expect(rec.heldOutExamples).toBe(own[0]!.metrics!.heldOut.examples + own[1]!.metrics!.heldOut.examples);
    expect(rec.heldOutAccuracy).toBeCloseTo((own[0]!.metrics!.heldOut.correct + own[1]!.metrics!.heldOut.correct) / rec.heldOutExamples!, 12);
    // The model part: the mean of the updates clipped to √(c² − c_m²) (the simulator's clipped updates).
    const plain = new Float64Array(d);
    for (const list of clipped.values())
      for (const u of list) {
        expect(Math.hypot(...u)).toBeLessThanOrEqual(Math.sqrt(1 - 0.25 ** 2) + 1e-6);
        for (let i = 0; i < d; i++) plain[i]! += u[i]! / 4;
      }
    let err = 0;
    for (let i = 0; i < d; i++) err += (outcome.mean[i]! - plain[i]!) ** 2;
    expect(Math.sqrt(err)).toBeLessThan(1e-6 * Math.sqrt(8192));
  });

  it('refuses a task whose DDG dimension does not fit the model plus the metric coordinates', async () => {
    const reports: string[] = [];
    const runtime = new ClientRuntime(new LocalTrainer([syntheticDigits(20, 3)], tf.getBackend()), {
      sendSecAgg() {},
      report: (r) => r.error && reports.push(r.error),
    });
    const model = buildModel(spec, MNIST_SHAPE);
    const weights = await getFlatWeights(model);
    model.dispose();
    const { vectorBytes } = await import('@hushfl/protocol');
    const { chooseSecAggParams } = await import('@hushfl/secagg');
    const requirement = { dropoutRate: 0.1, corruptRate: 0.1, maxColluders: 1 };
    const p = chooseSecAggParams(3, requirement);
    await runtime.onTask({
      runId: 'r',
      round: 0,
      attempt: 1,
      roundId: 'r/r0/a1',
      task: 'mnist',
      model: { spec, weights: vectorBytes(weights) },
      training: { epochs: 1, batchSize: 8, learningRate: 0.1 },
      dpsgd: null,
      ddg: { dim: weights.length, clip: 1, gamma: 1e-3, beta: 0, bits: 16, localStddev: 0 },
      evaluation: EVALUATION,
      rotationSeed: new Uint8Array(32),
      secagg: { id: 1, clients: [1, 2, 3], neighbours: p.neighbours, threshold: p.threshold, graphCommitment: new Uint8Array(32), ...requirement },
      contributions: 1,
      trainingDeadlineMs: 10_000,
    });
    expect(reports.join()).toMatch(/plus 6 federated evaluation coordinates/);
    runtime.dispose();
  });
});
