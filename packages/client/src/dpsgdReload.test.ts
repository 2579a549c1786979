/**
 * DP-SGD's per-mini-client RDP ledgers survive a reload (issue 12 §5): a client runs N rounds, its page
 * reloads (a new runtime from what it stored), it runs one more, and its ε is the accountant's for N + 1
 * rounds — not for one round, as when the ledgers started again from zero.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { accountDpsgd } from '@hushfl/ddp';
import type { RoundSetup } from '@hushfl/engine';
import { buildModel, getFlatWeights, MNIST_SHAPE } from '@hushfl/tasks';
import { inMemoryClient, runRoundInMemory, type InMemoryClient } from './inMemoryRound.ts';
import { ClientRuntime, type ClientMetrics, type PersistedDpsgdLedger } from './runtime.ts';
import { initTestTf, syntheticDigits } from './testing.ts';
import { LocalTrainer } from './trainer.ts';

beforeAll(async () => {
  await initTestTf();
});

const spec = { kind: 'mlp' as const, hidden: [8] };
const dpsgd = { clip: 1, noiseMultiplier: 1.1, sampling: 'poisson' as const, delta: 1e-5 };

function setup(round: number, weights: Float32Array, parties = 3): RoundSetup {
  return {
    runId: 'reload',
    round,
    attempt: 1,
    parties: [
      { clientId: 'dp', contributions: 2 },
      { clientId: 'p1', contributions: 1 },
      { clientId: 'p2', contributions: 1 },
    ],
    modelSpec: spec,
    task: 'mnist',
    weights,
    training: { epochs: 1, batchSize: 16, learningRate: 0.1 },
    dpsgd,
    ddg: { dim: weights.length, clip: 1, gamma: 2e-4, beta: Math.exp(-0.5), bits: 24, localStddev: 0 },
    // The complete graph with t = k (the strongest parameters): these tests have no dropouts.
    secagg: { dropoutRate: 0.1, corruptRate: 0.1, maxColluders: 1, neighbours: parties - 1, threshold: parties - 1 },
    deadlinesMs: { 'advertise-keys': 1, 'share-keys': 1, 'masked-input': 1, 'consistency-check': 1, unmasking: 1 },
    minParties: 2,
    rotationSeed: globalThis.crypto.getRandomValues(new Uint8Array(32)),
    graphValue: globalThis.crypto.getRandomValues(new Uint8Array(32)),
  };
}

/** ε after `rounds` rounds: mini-clients of 64 and 40 examples take 4 and 3 steps a round at rates 1/4 and 2/5. */
const trueEpsilon = (rounds: number) =>
  Math.max(
    accountDpsgd({ sampleRate: 16 / 64, noiseMultiplier: dpsgd.noiseMultiplier, steps: rounds * 4, delta: dpsgd.delta }).epsilon,
    accountDpsgd({ sampleRate: 16 / 40, noiseMultiplier: dpsgd.noiseMultiplier, steps: rounds * 3, delta: dpsgd.delta }).epsilon,
  );

describe('DP-SGD ledgers across a reload', () => {
  it('after N rounds, a reload and one more round, ε is the accountant’s for N + 1 rounds', async () => {
    const N = 3;
    // What the page keeps in IndexedDB, keyed by run and mini-client.
    const stored = new Map<string, PersistedDpsgdLedger>();
    let storedMetrics: ClientMetrics | null = null;
    const data = [syntheticDigits(64, 80), syntheticDigits(40, 81)];
    const dpClient = () =>
      inMemoryClient(
        'dp',
        (host) =>
          new ClientRuntime(new LocalTrainer(data, tf.getBackend()), {
            ...host,
            persistDpsgdLedgers: async (ledgers) => {
              for (const l of ledgers) stored.set(`${l.runId}/${l.miniClient}`, structuredClone(l));
            },
            persistMetrics: async (m) => {
              storedMetrics = structuredClone(m);
            },
          }),
      );
    const clients = new Map<string, InMemoryClient>([
      ['dp', dpClient()],
      ['p1', inMemoryClient('p1', (host) => new ClientRuntime(new LocalTrainer([syntheticDigits(32, 82)], tf.getBackend()), host))],
      ['p2', inMemoryClient('p2', (host) => new ClientRuntime(new LocalTrainer([syntheticDigits(32, 83)], tf.getBackend()), host))],
    ]);
    const model = buildModel(spec, MNIST_SHAPE);
    const weights = await getFlatWeights(model);
    model.dispose();
    for (let round = 0; round < N; round++) expect((await runRoundInMemory(setup(round, weights), clients)).kind).toBe('released');
    expect(clients.get('dp')!.runtime.metrics.dpsgdEpsilon).toBeCloseTo(trueEpsilon(N), 9);
    expect([...stored.keys()].sort()).toEqual(['reload/0', 'reload/1']);
    expect([...stored.values()].every((l) => l.rounds === N)).toBe(true);

    // The reload: a fresh runtime restored from the store, as the client Worker's init does.
    const reloaded = dpClient();
    reloaded.runtime.restoreMetrics(storedMetrics!);
    reloaded.runtime.restoreDpsgdLedgers([...stored.values()]);
    expect(reloaded.runtime.metrics.dpsgdEpsilon).toBeCloseTo(trueEpsilon(N), 9);
    clients.set('dp', reloaded);
    expect((await runRoundInMemory(setup(N, weights), clients)).kind).toBe('released');

    const eps = reloaded.runtime.metrics.dpsgdEpsilon!;
    expect(eps).toBeCloseTo(trueEpsilon(N + 1), 9);
    expect(eps).toBeGreaterThan(trueEpsilon(1) * 1.5); // what ledgers started afresh would report
    expect([...stored.values()].every((l) => l.rounds === N + 1)).toBe(true);
  });

  it('persists the ledgers before the round’s first SecAgg message; if that fails, nothing is sent', async () => {
    const sent: string[] = [];
    const order: string[] = [];
    const failing = inMemoryClient(
      'dp',
      (host) =>
        new ClientRuntime(new LocalTrainer([syntheticDigits(64, 84)], tf.getBackend()), {
          ...host,
          sendSecAgg: (roundId, m) => {
            order.push(`send ${m.type}`);
            sent.push(m.type);
            host.sendSecAgg(roundId, m);
          },
          persistDpsgdLedgers: async () => {
            order.push('persist');
            throw new Error('IndexedDB is full');
          },
        }),
    );
    const model = buildModel(spec, MNIST_SHAPE);
    const weights = await getFlatWeights(model);
    model.dispose();
    const s = setup(0, weights, 4);
    const clients = new Map<string, InMemoryClient>([
      ['dp', failing],
      ['p1', inMemoryClient('p1', (host) => new ClientRuntime(new LocalTrainer([syntheticDigits(32, 85)], tf.getBackend()), host))],
      ['p2', inMemoryClient('p2', (host) => new ClientRuntime(new LocalTrainer([syntheticDigits(32, 86)], tf.getBackend()), host))],
      ['p3', inMemoryClient('p3', (host) => new ClientRuntime(new LocalTrainer([syntheticDigits(32, 87)], tf.getBackend()), host))],
    ]);
    await runRoundInMemory(
      {
        ...s,
        parties: [
          { clientId: 'dp', contributions: 1 },
          { clientId: 'p1', contributions: 1 },
          { clientId: 'p2', contributions: 1 },
          { clientId: 'p3', contributions: 1 },
        ],
      },
      clients,
    );
    expect(order).toEqual(['persist']);
    expect(sent).toEqual([]);
    expect(failing.runtime.metrics.rounds[0]).toMatchObject({ status: 'failed', error: 'IndexedDB is full' });
  });
});
