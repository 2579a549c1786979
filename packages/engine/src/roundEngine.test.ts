/**
 * The round engine with real SecAgg clients and real DDG encodings, driven by hand: no sockets, no clock.
 */
import { describe, expect, it } from 'vitest';
import { encodeDdg, l2Norm, type DdgParams } from '@hushfl/ddp';
import { SecAggClient, type SecAggClientMessage, type SecAggServerMessage } from '@hushfl/secagg';
import { RoundEngine, type EngineCommand, type RoundSetup } from './roundEngine.ts';
import { roundSetupForTest } from './testing.ts';
import type { TaskMessage } from '@hushfl/protocol';

const DIM = 300;
const ddg: DdgParams = { dim: DIM, clip: 1, gamma: 1e-4, beta: 0, bits: 24, localStddev: 0 };

function setup(parties: string[], overrides: Partial<RoundSetup> = {}): RoundSetup {
  return roundSetupForTest(parties, DIM, { ddg, ...overrides });
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
            graphCommitment: task.secagg.graphCommitment,
          },
          task.secagg.id,
          encoded,
          { requirement: task.secagg },
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

/** SecAgg parameters that tolerate one dropout among a few parties (no colluders assumed): for n_min tests. */
const tolerant = { dropoutRate: 0.1, corruptRate: 0.1, maxColluders: 0 };

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
    // Two of six gone: C = 0 (t = 3); with C = 1, t = 4 exceeds the three neighbours left in U1.
    const r = await play(setup(parties, { secagg: tolerant }), { silent: new Set(['b']), gone: new Set(['e']) });
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
      graphContribution: new Uint8Array(32),
    } as const;
    expect(await engine.onSecAgg('a', fake)).toEqual([
      { kind: 'refused', clientId: 'a', code: 'bad-message', reason: expect.stringMatching(/as SecAgg id 2, its id is 1/) },
    ]);
    expect((await engine.onSecAgg('zz', fake))[0]).toMatchObject({ kind: 'refused', code: 'unknown-client' });
    expect(await engine.onDeadline('not-a-timer')).toEqual([]);
  });

  it('does not release a round with fewer than n_min parties', async () => {
    // maxColluders 0: t = ⌊k/2⌋ + 1, so SecAgg itself survives the dropout and n_min is what stops the round.
    const r = await play(setup(['a', 'b', 'c', 'd'], { minParties: 4, secagg: tolerant }), { gone: new Set(['d']) });
    expect(r.outcome).toMatchObject({
      kind: 'aborted',
      code: 'too-few-parties',
      reason: expect.stringMatching(/only 3 parties reached the sum, fewer than n_min = 4 parties/),
    });
    expect(r.log.some((c) => c.kind === 'released')).toBe(false);
    // Stopped at the close of MaskedInputCollection: no survivor list or unmask request ever went out, so
    // no share that could unmask the under-noised sum was asked for.
    const secaggTypes = r.log.flatMap((c) => (c.kind === 'send' && c.event === 'secagg' ? [(c.payload as { message: { type: string } }).message.type] : []));
    expect(secaggTypes.length).toBeGreaterThan(0);
    expect(secaggTypes.filter((t) => t === 'survivors' || t === 'unmask-request')).toEqual([]);
    expect(r.log.filter((c) => c.kind === 'stage' && c.phase === 'open').map((c) => (c as { stage: string }).stage)).not.toContain('consistency-check');
  });

  it('a round that keeps n_min parties after a late dropout is still released', async () => {
    const r = await play(setup(['a', 'b', 'c', 'd', 'e'], { minParties: 4 }), { gone: new Set(['e']) });
    expect(r.outcome).toMatchObject({ kind: 'released', contributions: 4, parties: 4 });
  });

  it('n_min counts parties, never the mini-clients a party declares (issue 12 §2)', async () => {
    // Four parties, one claiming 16 mini-clients; one honest party drops. 18 contributions would pass an
    // n_min of 4 counted in contributions, but only 3 parties — 3 independent noise sources — are in the sum.
    const s = setup(['a', 'b', 'c', 'd'], { minParties: 4, secagg: tolerant });
    const sybil = { ...s, parties: s.parties.map((p) => (p.clientId === 'a' ? { ...p, contributions: 16 } : p)) };
    const r = await play(sybil, { gone: new Set(['d']) });
    expect(r.outcome).toMatchObject({ kind: 'aborted', code: 'too-few-parties' });
    expect(r.log.some((c) => c.kind === 'released')).toBe(false);
    const secaggTypes = r.log.flatMap((c) => (c.kind === 'send' && c.event === 'secagg' ? [(c.payload as { message: { type: string } }).message.type] : []));
    expect(secaggTypes).not.toContain('unmask-request');
  });

  it('the close of the ConsistencyCheck names the parties in the sum, ahead of the first unmask request', async () => {
    const s = setup(['a', 'b', 'c', 'd']);
    const withMini = { ...s, parties: s.parties.map((p) => (p.clientId === 'a' ? { ...p, contributions: 3 } : p)) };
    const r = await play(withMini);
    expect(r.outcome).toMatchObject({ kind: 'released', contributions: 6, parties: 4 });
    const marked = r.log.flatMap((c, i) => (c.kind === 'stage' && c.unmasking ? [{ c, i }] : []));
    expect(marked).toHaveLength(1);
    expect(marked[0]!.c).toMatchObject({ stage: 'consistency-check', phase: 'closed', unmasking: { parties: 4, contributions: 6 } });
    const firstRequest = r.log.findIndex((c) => c.kind === 'send' && (c.payload as { message?: { type: string } }).message?.type === 'unmask-request');
    expect(firstRequest).toBeGreaterThan(marked[0]!.i);
  });

  it('divides the released sum by meanDivisor when given (Poisson selection: the expected sample size)', async () => {
    const parties = ['a', 'b', 'c', 'd'];
    const plain = await play(setup(parties));
    const fixed = await play(setup(parties, { meanDivisor: 8 }));
    if (plain.outcome.kind !== 'released' || fixed.outcome.kind !== 'released') throw new Error('not released');
    expect(fixed.outcome.contributions).toBe(4);
    // The same encodings (no noise) decode to the same sum: the mean over 8 is half the mean over 4.
    const want = clippedMean([0, 1, 2, 3]).map((v) => v / 2);
    expect(dist(fixed.outcome.mean, want)).toBeLessThan(ddg.gamma * Math.sqrt(512));
    expect(dist(plain.outcome.mean, clippedMean([0, 1, 2, 3]))).toBeLessThan(ddg.gamma * Math.sqrt(512));
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
    expect(r.outcome).toMatchObject({ kind: 'released', contributions: 5, parties: 3 });
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
    // A reconnect loop gets the model once per attempt, not once per reconnect (issue 13 §2).
    expect(engine.onReconnect('b')).toEqual([]);
    // Also across a snapshot (another coordinator continuing the round).
    const restored = await RoundEngine.restore(engine.snapshot());
    expect(restored.onReconnect('b')).toEqual([]);
    expect(restored.onReconnect('a').map((c) => (c.kind === 'send' ? c.event : c.kind))).toEqual(['task']);
  });
});
