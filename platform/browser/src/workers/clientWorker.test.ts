/**
 * The client Worker, run as a Worker (@vitest/web-worker) with IndexedDB (fake-indexeddb) and a trainer on
 * the other end of its MessagePort, takes part in a real round with two in-process clients: training, DDG
 * encoding, mini-client summation and SecAgg, the state persisted to IndexedDB at every step.
 */
import 'fake-indexeddb/auto';
import '@vitest/web-worker';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClientRuntime, LocalTrainer, inMemoryClient } from '@hushfl/client';
import { buildModel, getFlatWeights, modelDimension, MNIST_SHAPE } from '@hushfl/tasks';
import { RoundEngine, type EngineCommand, type RoundSetup } from '@hushfl/engine';
import { initTestTf, syntheticDigits } from '@hushfl/client/testing';
import { pack, secaggEnvelopeFromClient, unpack } from '@hushfl/protocol';
import { store } from '../store.ts';
import type { FromClientWorker, TrainCall, TrainReply } from './messages.ts';

beforeAll(async () => {
  await initTestTf();
});

const spec = { kind: 'mlp' as const, hidden: [8] };

describe('client Worker pipeline', () => {
  it('trains two mini-clients, encodes, masks and completes a round; state reaches IndexedDB', async () => {
    const worker = new Worker(new URL('./client.worker.ts', import.meta.url), { type: 'module' });
    const trainer = new LocalTrainer([syntheticDigits(40, 1), syntheticDigits(40, 2)], tf.getBackend());
    const channel = new MessageChannel();
    channel.port2.onmessage = async (e: MessageEvent<TrainCall>) => {
      const out = await trainer.train(e.data.req);
      channel.port2.postMessage({ type: 'done', id: e.data.id, output: out, backend: trainer.backend } satisfies TrainReply);
    };
    const fromWorker: FromClientWorker[] = [];
    // Anything new (a worker message, an in-process client's answer) wakes the driver loop below.
    let wake = () => {};
    worker.onmessage = (e: MessageEvent<FromClientWorker>) => {
      fromWorker.push(e.data);
      wake();
    };
    const take = (type: FromClientWorker['type']) => {
      const i = fromWorker.findIndex((m) => m.type === type);
      return i >= 0 ? fromWorker.splice(i, 1)[0]! : undefined;
    };
    const next = async (type: FromClientWorker['type']): Promise<FromClientWorker> => {
      for (;;) {
        const m = take(type);
        if (m) return m;
        await new Promise<void>((r) => (wake = r));
      }
    };
    worker.postMessage({ type: 'init', miniClients: 2, trainer: channel.port1, backend: tf.getBackend() }, [channel.port1]);
    expect(await next('ready')).toMatchObject({ resumedRound: null });

    const model = buildModel(spec, MNIST_SHAPE);
    const weights = await getFlatWeights(model);
    model.dispose();
    const others = new Map(
      [1, 2].map((i) => [`o${i}`, inMemoryClient(`o${i}`, (host) => new ClientRuntime(new LocalTrainer([syntheticDigits(40, 10 + i)], 'wasm'), host))]),
    );
    const setup: RoundSetup = {
      runId: 'wk',
      round: 0,
      attempt: 1,
      parties: [
        { clientId: 'tab', contributions: 2 },
        { clientId: 'o1', contributions: 1 },
        { clientId: 'o2', contributions: 1 },
      ],
      modelSpec: spec,
      task: 'mnist',
      weights,
      training: { epochs: 1, batchSize: 8, learningRate: 0.1 },
      dpsgd: null,
      ddg: { dim: modelDimension(spec, MNIST_SHAPE), clip: 1, gamma: 1e-3, beta: 0, bits: 20, localStddev: 0.001 },
      secagg: { dropoutRate: 0.1, corruptRate: 0.1, maxColluders: 1 }, // 3 parties: no rate guarantee at 2^-40
      deadlinesMs: { 'advertise-keys': 1, 'share-keys': 1, 'masked-input': 1, 'consistency-check': 1, unmasking: 1 },
      minParties: 3,
      rotationSeed: new Uint8Array(32).fill(3),
      graphValue: new Uint8Array(32).fill(4),
    };
    const { engine, commands } = await RoundEngine.start(setup);
    const queue: EngineCommand[] = [...commands];
    const pending: Promise<void>[] = [];
    for (const c of others.values()) {
      c.connect({
        sendSecAgg: (_r, m) => {
          pending.push(engine.onSecAgg(c.clientId, m).then((cmds) => void queue.push(...cmds)));
          wake();
        },
        report() {},
      });
    }
    let outcome: EngineCommand | undefined;
    let sawPersistedRound = false;
    while (!outcome) {
      const cmd = queue.shift();
      if (!cmd) {
        if (pending.length) {
          await Promise.all(pending.splice(0));
          continue;
        }
        const m = take('secagg');
        if (m?.type === 'secagg') {
          sawPersistedRound ||= Boolean(await store.round());
          const env = secaggEnvelopeFromClient.parse(unpack(m.packed));
          queue.push(...(await engine.onSecAgg('tab', env.message)));
        } else await new Promise<void>((r) => (wake = r));
        continue;
      }
      if (cmd.kind === 'released' || cmd.kind === 'aborted') outcome = cmd;
      if (cmd.kind !== 'send') continue;
      const p = pack(cmd.payload);
      if (cmd.to === 'tab') worker.postMessage({ type: cmd.event, packed: { json: p.json, bin: p.bin.buffer } });
      else {
        const c = others.get(cmd.to)!;
        const wire = unpack(p);
        if (cmd.event === 'task') pending.push(c.runtime.onTask(wire as never));
        else pending.push(c.runtime.onSecAgg((wire as { roundId: string }).roundId, (wire as { message: never }).message));
      }
    }
    expect(outcome).toMatchObject({ kind: 'released', contributions: 4 });
    expect(sawPersistedRound).toBe(true);
    expect((await store.model())?.roundId).toBe(engine.roundId);
    worker.postMessage({ type: 'round-end', payload: { roundId: engine.roundId, round: 0, status: 'completed', included: true } });
    await next('metrics');
    await new Promise((r) => setTimeout(r, 50));
    expect(await store.round()).toBeUndefined();
    expect((await store.metrics())?.rounds[0]).toMatchObject({ roundId: engine.roundId, status: 'completed', included: true });
    worker.terminate();
  });
});
