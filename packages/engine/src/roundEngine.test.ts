/**
 * The round engine with real SecAgg clients and real DDG encodings, driven by hand: no sockets, no clock.
 */
import { describe, expect, it } from 'vitest';
import { encodeDdg, l2Norm, type DdgParams } from '@hushfl/ddp';
import { SecAggClient, type SecAggClientMessage, type SecAggServerMessage } from '@hushfl/secagg';
import { RoundEngine, type EngineCommand, type RoundSetup } from './roundEngine.ts';
import type { TaskMessage } from '@hushfl/protocol';

const DIM = 300;
const ddg: DdgParams = { dim: DIM, clip: 1, gamma: 1e-4, beta: 0, bits: 24, localStddev: 0 };

function setup(parties: string[], overrides: Partial<RoundSetup> = {}): RoundSetup {
  return {
    runId: 'run-test',
    round: 0,
    attempt: 1,
    parties: parties.map((clientId) => ({ clientId, contributions: 1 })),
    modelSpec: { kind: 'mlp', hidden: [] },
    weights: new Float32Array(DIM),
    training: { epochs: 1, batchSize: 8, learningRate: 0.1 },
    dpsgd: null,
    ddg,
    secagg: { dropoutRate: 0.1, corruptRate: 0.1 },
    deadlinesMs: { 'advertise-keys': 1000, 'share-keys': 1000, 'masked-input': 1000, 'consistency-check': 1000, unmasking: 1000 },
    minContributions: 2,
    rotationSeed: new Uint8Array(32).fill(1),
    graphSeed: new Uint8Array(32).fill(2),
    ...overrides,
  };
}

function update(i: number): Float32Array {
  return Float32Array.from({ length: DIM }, (_, k) => Math.sin(i * 13 + k) * 0.1 * (1 + i));
}

/** Plays every party honestly, except those in `silent` (never answer) and `gone` (disconnect on their task). */
async function play(
  s: RoundSetup,
  opts: { silent?: Set<string>; gone?: Set<string>; tamper?: (from: string, m: SecAggClientMessage) => SecAggClientMessage } = {},
) {
  const { engine, commands } = await RoundEngine.start(s);
  const clients = new Map<string, SecAggClient>();
  const log: EngineCommand[] = [];
  const timers = new Set<string>();
  const queue: EngineCommand[] = [...commands];
  while (queue.length) {
    const cmd = queue.shift()!;
    log.push(cmd);
    if (cmd.kind === 'timer') timers.add(cmd.key);
    if (cmd.kind === 'cancel-timer') timers.delete(cmd.key);
    if (cmd.kind === 'send') {
      const id = cmd.to;
      if (opts.silent?.has(id)) continue;
      if (opts.gone?.has(id)) {
        queue.push(...(await engine.onDisconnect(id)));
        continue;
      }
      let reply: SecAggClientMessage | undefined;
      if (cmd.event === 'task') {
        const task = cmd.payload as TaskMessage;
        const i = s.parties.findIndex((p) => p.clientId === id);
        const { encoded } = encodeDdg(update(i), task.ddg, task.rotationSeed);
        const c = await SecAggClient.create(
          {
            roundId: task.roundId,
            clients: task.secagg.clients,
            bits: task.ddg.bits,
            dim: encoded.length,
            neighbours: task.secagg.neighbours,
            threshold: task.secagg.threshold,
            graphSeed: task.secagg.graphSeed,
          },
          task.secagg.id,
          encoded,
        );
        clients.set(id, c);
        reply = await c.advertise();
      } else {
        const step = await clients.get(id)!.handle((cmd.payload as { message: SecAggServerMessage }).message);
        reply = step.outgoing;
      }
      if (reply) queue.push(...(await engine.onSecAgg(id, opts.tamper ? opts.tamper(id, reply) : reply)));
    }
    if (!queue.length && !engine.done && timers.size) {
      const key = [...timers][0]!;
      timers.delete(key);
      queue.push(...(await engine.onDeadline(key)));
    }
  }
  return { engine, log, outcome: log.find((c) => c.kind === 'released' || c.kind === 'aborted')! };
}

function clippedMean(indices: number[]): Float64Array {
  const m = new Float64Array(DIM);
  for (const i of indices) {
    const u = update(i);
    const norm = l2Norm(u);
    const s = norm > 1 ? 1 / norm : 1;
    for (let k = 0; k < DIM; k++) m[k]! += (u[k]! * s) / indices.length;
  }
  return m;
}

function dist(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

describe('RoundEngine', () => {
  it('releases the decoded mean of the contributions', async () => {
    const parties = ['a', 'b', 'c', 'd', 'e', 'f'];
    const { outcome, log } = await play(setup(parties));
    expect(outcome.kind).toBe('released');
    if (outcome.kind !== 'released') return;
    expect(outcome.contributions).toBe(6);
    expect([...outcome.included].sort()).toEqual(parties);
    expect(dist(outcome.mean, clippedMean([0, 1, 2, 3, 4, 5]))).toBeLessThan(ddg.gamma * Math.sqrt(512));
    // Every stage opened and closed once; tasks went to all six.
    expect(log.filter((c) => c.kind === 'stage' && c.phase === 'open')).toHaveLength(5);
    expect(log.filter((c) => c.kind === 'send' && c.event === 'task')).toHaveLength(6);
  });

  it('a silent party is dropped when the deadline fires; a disconnected one without waiting', async () => {
    const parties = ['a', 'b', 'c', 'd', 'e', 'f'];
    const r = await play(setup(parties), { silent: new Set(['b']), gone: new Set(['e']) });
    expect(r.outcome.kind).toBe('released');
    if (r.outcome.kind !== 'released') return;
    expect(r.outcome.droppedAt).toEqual({ b: 'advertise-keys', e: 'advertise-keys' });
    expect(r.outcome.contributions).toBe(4);
    expect(dist(r.outcome.mean, clippedMean([0, 2, 3, 5]))).toBeLessThan(ddg.gamma * Math.sqrt(512));
  });

  it('refuses a message claiming another party’s SecAgg id, and strangers', async () => {
    const s = setup(['a', 'b', 'c']);
    const { engine } = await RoundEngine.start(s);
    const fake = {
      type: 'advertise-keys',
      roundId: engine.roundId,
      from: 2,
      encryptionKey: new Uint8Array(32).fill(9),
      maskingKey: new Uint8Array(32).fill(9),
      signingKey: new Uint8Array(32),
    } as const;
    expect(await engine.onSecAgg('a', fake)).toEqual([
      { kind: 'refused', clientId: 'a', code: 'bad-message', reason: expect.stringMatching(/as SecAgg id 2, its id is 1/) },
    ]);
    expect((await engine.onSecAgg('zz', fake))[0]).toMatchObject({ kind: 'refused', code: 'unknown-client' });
    expect(await engine.onDeadline('not-a-timer')).toEqual([]);
  });

  it('does not release a round with fewer than n_min contributions', async () => {
    const r = await play(setup(['a', 'b', 'c', 'd'], { minContributions: 4 }), { gone: new Set(['d']) });
    expect(r.outcome).toMatchObject({ kind: 'aborted', code: 'too-few-contributions' });
    expect(r.log.some((c) => c.kind === 'released')).toBe(false);
    // Stopped at the close of MaskedInputCollection: no survivor list or unmask request ever went out, so
    // no share that could unmask the under-noised sum was asked for.
    const secaggTypes = r.log.flatMap((c) => (c.kind === 'send' && c.event === 'secagg' ? [(c.payload as { message: { type: string } }).message.type] : []));
    expect(secaggTypes.length).toBeGreaterThan(0);
    expect(secaggTypes.filter((t) => t === 'survivors' || t === 'unmask-request')).toEqual([]);
    expect(r.log.filter((c) => c.kind === 'stage' && c.phase === 'open').map((c) => (c as { stage: string }).stage)).not.toContain('consistency-check');
  });

  it('a round that keeps n_min contributions after a late dropout is still released', async () => {
    const r = await play(setup(['a', 'b', 'c', 'd', 'e'], { minContributions: 4 }), { gone: new Set(['e']) });
    expect(r.outcome).toMatchObject({ kind: 'released', contributions: 4 });
  });

  it('counts mini-client contributions for the mean', async () => {
    const s = setup(['a', 'b', 'c']);
    const withMini = {
      ...s,
      parties: [
        { clientId: 'a', contributions: 3 },
        { clientId: 'b', contributions: 1 },
        { clientId: 'c', contributions: 1 },
      ],
    };
    const r = await play(withMini);
    expect(r.outcome).toMatchObject({ kind: 'released', contributions: 5 });
  });
});

describe('RoundEngine reconnects', () => {
  it('repeats the task and the latest SecAgg message to a party that comes back', async () => {
    const s = setup(['a', 'b', 'c']);
    const { engine } = await RoundEngine.start(s);
    await engine.onDisconnect('b');
    const again = engine.onReconnect('b');
    expect(again.map((c) => (c.kind === 'send' ? c.event : c.kind))).toEqual(['task']);
    expect(engine.onReconnect('stranger')).toEqual([]);
  });
});
