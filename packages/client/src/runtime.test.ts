/**
 * Client runtimes and the round engine in one process: training, DDG encoding with real noise, mini-client
 * summation and SecAgg, end to end, without sockets.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { accountDpsgd } from '@hushfl/ddp';
import type { RoundSetup } from '@hushfl/engine';
import { inMemoryClient, runRoundInMemory, type InMemoryClient } from './inMemoryRound.ts';
import { buildModel, getFlatWeights, modelDimension, MNIST_SHAPE } from '@hushfl/tasks';
import { ClientRuntime } from './runtime.ts';
import { LocalTrainer } from './trainer.ts';
import { initTestTf, syntheticDigits } from './testing.ts';

beforeAll(async () => {
  await initTestTf();
});

const spec = { kind: 'mlp' as const, hidden: [16] };

function makeSetup(round: number, parties: { clientId: string; contributions: number }[], weights: Float32Array, localStddev: number): RoundSetup {
  return {
    runId: 'mem',
    round,
    attempt: 1,
    parties,
    modelSpec: spec,
    task: 'mnist',
    weights,
    training: { epochs: 1, batchSize: 16, learningRate: 0.1 },
    dpsgd: null,
    ddg: { dim: weights.length, clip: 1, gamma: 2e-4, beta: Math.exp(-0.5), bits: 24, localStddev },
    secagg: { dropoutRate: 0.1, corruptRate: 0.1, maxColluders: 1 }, // 3 parties: no rate guarantee at 2^-40
    deadlinesMs: { 'advertise-keys': 1, 'share-keys': 1, 'masked-input': 1, 'consistency-check': 1, unmasking: 1 },
    minParties: 2,
    rotationSeed: globalThis.crypto.getRandomValues(new Uint8Array(32)),
    graphValue: globalThis.crypto.getRandomValues(new Uint8Array(32)),
  };
}

describe('client runtime with the round engine, in memory', () => {
  it('releases the mean of every mini-client’s clipped update; memory stays flat across rounds', async () => {
    const clipped = new Map<string, Float32Array[]>();
    const clients = new Map<string, InMemoryClient>();
    const datasets: Record<string, number> = { a: 1, b: 1, c: 2 }; // c runs two mini-clients
    let seed = 10;
    for (const [id, k] of Object.entries(datasets)) {
      const data = Array.from({ length: k }, () => syntheticDigits(64, seed++));
      clients.set(
        id,
        inMemoryClient(
          id,
          (host) => new ClientRuntime(new LocalTrainer(data, tf.getBackend()), host),
          (_roundId, c) =>
            clipped.set(
              id,
              c.map((u) => u.slice()),
            ),
        ),
      );
    }
    const model = buildModel(spec, MNIST_SHAPE);
    let weights = await getFlatWeights(model);
    model.dispose();
    expect(weights.length).toBe(modelDimension(spec, MNIST_SHAPE));
    let tensors = -1;
    for (let round = 0; round < 3; round++) {
      const outcome = await runRoundInMemory(
        makeSetup(
          round,
          Object.entries(datasets).map(([clientId, contributions]) => ({ clientId, contributions })),
          weights,
          0,
        ),
        clients,
      );
      expect(outcome.kind).toBe('released');
      if (outcome.kind !== 'released') return;
      expect(outcome.contributions).toBe(4);
      const plain = new Float64Array(weights.length);
      for (const list of clipped.values()) for (const u of list) for (let i = 0; i < u.length; i++) plain[i]! += u[i]! / 4;
      let err = 0;
      for (let i = 0; i < plain.length; i++) err += (outcome.mean[i]! - plain[i]!) ** 2;
      // Rounding only (no noise): each of 4 contributions moves by < 1 grid step per padded coordinate.
      expect(Math.sqrt(err)).toBeLessThan(2e-4 * Math.sqrt(16384));
      weights = weights.map((w, i) => w + outcome.mean[i]!);
      if (round === 0) tensors = tf.memory().numTensors;
      else expect(tf.memory().numTensors).toBe(tensors);
    }
    for (const c of clients.values()) {
      const rounds = c.runtime.metrics.rounds;
      expect(rounds).toHaveLength(3);
      expect(rounds.every((r) => r.status === 'completed' && r.included)).toBe(true);
      expect(rounds[0]!.secaggMs.unmasking).toBeGreaterThanOrEqual(0);
    }
  });

  it('a client with more mini-clients than the run counts takes part with the first ones only', async () => {
    const clipped = new Map<string, Float32Array[]>();
    const clients = new Map<string, InMemoryClient>();
    const runs: Record<string, number> = { a: 1, b: 1, big: 3 }; // `big` runs three mini-clients, the run counts two (SecAgg needs 3 parties)
    let seed = 60;
    for (const [id, k] of Object.entries(runs)) {
      const data = Array.from({ length: k }, () => syntheticDigits(32, seed++));
      clients.set(
        id,
        inMemoryClient(
          id,
          (host) => new ClientRuntime(new LocalTrainer(data, tf.getBackend()), host),
          (_r, c) =>
            clipped.set(
              id,
              c.map((u) => u.slice()),
            ),
        ),
      );
    }
    const model = buildModel(spec, MNIST_SHAPE);
    const weights = await getFlatWeights(model);
    model.dispose();
    const outcome = await runRoundInMemory(
      makeSetup(
        0,
        [
          { clientId: 'a', contributions: 1 },
          { clientId: 'b', contributions: 1 },
          { clientId: 'big', contributions: 2 },
        ],
        weights,
        0,
      ),
      clients,
    );
    expect(outcome.kind).toBe('released');
    if (outcome.kind !== 'released') return;
    expect(outcome.contributions).toBe(4);
    expect(clipped.get('big')).toHaveLength(2);
    const plain = new Float64Array(weights.length);
    for (const list of clipped.values()) for (const u of list) for (let i = 0; i < u.length; i++) plain[i]! += u[i]! / 4;
    let err = 0;
    for (let i = 0; i < plain.length; i++) err += (outcome.mean[i]! - plain[i]!) ** 2;
    expect(Math.sqrt(err)).toBeLessThan(2e-4 * Math.sqrt(16384));
  });

  it('keeps each mini-client’s DP-SGD ledger across rounds and reports the worst ε, as the sampled Gaussian accountant gives', async () => {
    const clients = new Map<string, InMemoryClient>();
    // Mini-clients with 64 and 40 examples: batch 16 gives 4 and 3 steps per round at rates 1/4 and 2/5.
    const data = [syntheticDigits(64, 70), syntheticDigits(40, 71)];
    clients.set(
      'dp',
      inMemoryClient(
        'dp',
        (host) => new ClientRuntime(new LocalTrainer(data, tf.getBackend()), host),
        () => {},
      ),
    );
    // Two plain parties besides 'dp': SecAgg needs at least 3.
    for (const [id, seed] of [
      ['plain', 72],
      ['plain2', 73],
    ] as const) {
      clients.set(
        id,
        inMemoryClient(
          id,
          (host) => new ClientRuntime(new LocalTrainer([syntheticDigits(32, seed)], tf.getBackend()), host),
          () => {},
        ),
      );
    }
    const model = buildModel(spec, MNIST_SHAPE);
    const weights = await getFlatWeights(model);
    model.dispose();
    const dpsgd = { clip: 1, noiseMultiplier: 1.1, sampling: 'poisson' as const, delta: 1e-5 };
    for (let round = 0; round < 2; round++) {
      const setup = {
        ...makeSetup(
          round,
          [
            { clientId: 'dp', contributions: 2 },
            { clientId: 'plain', contributions: 1 },
            { clientId: 'plain2', contributions: 1 },
          ],
          weights,
          0,
        ),
        dpsgd,
      };
      expect((await runRoundInMemory(setup, clients)).kind).toBe('released');
    }
    const got = clients.get('dp')!.runtime.metrics;
    const want = Math.max(
      accountDpsgd({ sampleRate: 16 / 64, noiseMultiplier: 1.1, steps: 2 * 4, delta: 1e-5 }).epsilon,
      accountDpsgd({ sampleRate: 16 / 40, noiseMultiplier: 1.1, steps: 2 * 3, delta: 1e-5 }).epsilon,
    );
    expect(got.dpsgdDelta).toBe(1e-5);
    expect(got.dpsgdEpsilon).toBeCloseTo(want, 9);
  });

  it('adds calibrated noise: the released mean deviates from the plain mean by about σ·sqrt(d/n)', async () => {
    const clipped = new Map<string, Float32Array[]>();
    const clients = new Map<string, InMemoryClient>();
    for (let i = 0; i < 4; i++) {
      const data = [syntheticDigits(32, 40 + i)];
      clients.set(
        `n${i}`,
        inMemoryClient(
          `n${i}`,
          (host) => new ClientRuntime(new LocalTrainer(data, 'wasm'), host),
          (_r, c) =>
            clipped.set(
              `n${i}`,
              c.map((u) => u.slice()),
            ),
        ),
      );
    }
    const model = buildModel(spec, MNIST_SHAPE);
    const weights = await getFlatWeights(model);
    model.dispose();
    const sigma = 0.01;
    const outcome = await runRoundInMemory(
      makeSetup(
        0,
        [...clients.keys()].map((clientId) => ({ clientId, contributions: 1 })),
        weights,
        sigma,
      ),
      clients,
    );
    expect(outcome.kind).toBe('released');
    if (outcome.kind !== 'released') return;
    const plain = new Float64Array(weights.length);
    for (const list of clipped.values()) for (const u of list) for (let i = 0; i < u.length; i++) plain[i]! += u[i]! / 4;
    let err = 0;
    for (let i = 0; i < plain.length; i++) err += (outcome.mean[i]! - plain[i]!) ** 2;
    const expected = Math.sqrt((weights.length * sigma * sigma) / 4);
    expect(Math.sqrt(err)).toBeGreaterThan(0.9 * expected);
    expect(Math.sqrt(err)).toBeLessThan(1.1 * expected + 2e-4 * Math.sqrt(16384));
  });
});
