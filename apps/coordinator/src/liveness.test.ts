/**
 * No silent stall and no run lost for good (issue 13 §1–§3), on a real coordinator over Socket.IO: idle
 * Sybils beside honest clients, a client that reconnects in a loop, a SQLite lock held by another connection
 * during a round, and an operator resuming a run that was stopped.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { describe, expect, it, vi } from 'vitest';
import { CLIENT_NAMESPACE, EVENTS, PROTOCOL_VERSION } from '@hushfl/protocol';
import { STORE_BUSY_TIMEOUT_MS } from './sqliteStore.ts';
import { idleSybil, type RawClient, startClients, startTestCoordinator, stopAll, testConfig } from './testing.ts';

const auth = { authorization: 'Bearer test-operator-token-0123456789' };

/**
 * A run beside Sybils: short training (each attempt a Sybil spoils costs its deadline) and maxAttempts 1 —
 * before issue 13 the first attempt with a silent Sybil in it failed the run. Demo data: every connection
 * holds a shard, Sybils too (issue 14's on-device data has none to hold), hence the spare shards.
 */
function sybilRunConfig(rounds: number, clientsPerRound: number) {
  return testConfig({
    task: { shards: 400 },
    rounds,
    minClients: 3,
    selection: { clientsPerRound },
    maxAttempts: 1,
    training: { epochs: 1, batchSize: 32, learningRate: 0.1 },
    deadlines: { training: 2, shareKeys: 5, maskedInput: 5, consistencyCheck: 5, unmasking: 5 },
  });
}

describe('liveness under attack, over Socket.IO', () => {
  it('40 idle Sybils beside 4 honest clients: never selected (they answer no liveness probe), and the run completes', async () => {
    const config = sybilRunConfig(2, 4);
    const { c, rounds } = await startTestCoordinator(config);
    const sybils: RawClient[] = [];
    for (let i = 0; i < 40; i++) sybils.push(await idleSybil(c.url, `sybil-${i}`));
    const honest = await startClients(c.url, 4);
    await c.manager.whenIdle();
    const runId = c.sqlite!.runs()[0]!.id;
    const run = c.sqlite!.run(runId)!;
    const stored = c.sqlite!.rounds(runId);
    // No Sybil was ever a party.
    const parties = new Set(stored.flatMap((r) => c.sqlite!.participants(runId, r.round).map((p) => p.client_id)));
    for (const s of sybils) s.close();
    await stopAll(c, honest);

    expect(run.state).toBe('completed');
    expect(rounds.filter((r) => r.status === 'completed').map((r) => r.round)).toEqual([0, 1]);
    expect(stored.every((r) => r.state === 'completed')).toBe(true);
    expect(parties.size).toBe(4);
  }, 120_000);

  it('a Sybil that echoes probes but never takes part costs only attempts that do not count; the run completes', async () => {
    const config = sybilRunConfig(1, 3);
    const { c, rounds } = await startTestCoordinator(config);
    const sybils: RawClient[] = [];
    sybils.push(await idleSybil(c.url, 'echoing-sybil', { echoProbes: true }));
    const honest = await startClients(c.url, 5);
    await c.manager.whenIdle();
    const runId = c.sqlite!.runs()[0]!.id;
    const run = c.sqlite!.run(runId)!;
    const stored = c.sqlite!.rounds(runId);
    for (const s of sybils) s.close();
    await stopAll(c, honest);

    expect(run.state).toBe('completed');
    expect(rounds.filter((r) => r.status === 'completed').map((r) => r.round)).toEqual([0]);
    const aborted = stored.filter((r) => r.state === 'aborted');
    expect(aborted.every((r) => /did not answer/.test(r.excused ?? ''))).toBe(true);
  }, 180_000);

  it('a party that reconnects in a loop during a round gets its task (the model) at most once more per attempt', async () => {
    const config = testConfig({
      rounds: 1,
      minClients: 3,
      selection: { clientsPerRound: 3 },
      deadlines: { training: 6, shareKeys: 5, maskedInput: 5, consistencyCheck: 5, unmasking: 5 },
    });
    const { c } = await startTestCoordinator(config);
    const url = new URL(CLIENT_NAMESPACE, c.url).toString();
    let tasks = 0;
    /** roundId (one per attempt) → task copies received. */
    const copies = new Map<string, number>();
    const connect = async (resume?: { clientId: string; sessionToken: string }) => {
      const socket: Socket = io(url, { transports: ['websocket'], reconnection: false });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      socket.on(EVENTS.task, (p: { json: string }) => {
        tasks++;
        const { roundId } = JSON.parse(p.json) as { roundId: string };
        copies.set(roundId, (copies.get(roundId) ?? 0) + 1);
      });
      socket.on(EVENTS.liveness, (probe: unknown) => socket.emit(EVENTS.liveness, probe));
      const ack = await socket.emitWithAck(EVENTS.hello, { v: PROTOCOL_VERSION, miniClients: 1, ...(resume ? { resume } : {}) });
      expect(ack).toMatchObject({ ok: true });
      socket.emit(EVENTS.ready);
      return { socket, session: { clientId: ack.clientId as string, sessionToken: ack.sessionToken as string } };
    };
    let loop = await connect();
    const honest = await startClients(c.url, 2);
    await vi.waitFor(() => expect(tasks).toBe(1), { timeout: 30_000 });
    // It never answers; it reconnects (resuming its identity) five times, each new connection replacing the
    // old one (as a reloaded tab's does), so the round never sees it leave.
    for (let i = 0; i < 5; i++) {
      const old = loop.socket;
      loop = await connect(loop.session);
      old.close();
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));
    const received = [...copies.values()];
    loop.socket.close();
    await stopAll(c, honest);
    // The first task, and one replay for all five reconnects (today: one per reconnect, 3.27 MB per 100).
    expect(received).toEqual([2]);
  }, 60_000);

  it('a SQLite lock held past the busy timeout during a round aborts that attempt, logged; the run then completes', async () => {
    const config = testConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 3 }, maxAttempts: 1 });
    const { c, rounds, events, dataDir } = await startTestCoordinator(config);
    const errors: string[] = [];
    const logError = c.app.log.error.bind(c.app.log);
    c.app.log.error = ((obj: unknown, msg?: string) => {
      errors.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
      logError(obj as object, msg);
    }) as never;
    const clients = await startClients(c.url, 3);
    // As soon as round 0 starts, another connection takes the write lock for longer than the busy timeout.
    await new Promise<void>((resolve) => {
      const onEvent = (e: { type: string }) => {
        if (e.type !== 'round-start') return;
        c.manager.off('event', onEvent);
        resolve();
      };
      c.manager.on('event', onEvent);
    });
    const other = new Database(join(dataDir, 'hushfl.db'));
    other.exec('BEGIN EXCLUSIVE');
    await new Promise((r) => setTimeout(r, STORE_BUSY_TIMEOUT_MS + 1500));
    other.exec('COMMIT');
    other.close();
    await c.manager.whenIdle();
    const runId = c.sqlite!.runs()[0]!.id;
    const run = c.sqlite!.run(runId)!;
    await stopAll(c, clients);

    expect(run.state).toBe('completed');
    expect(rounds.filter((r) => r.status === 'completed').map((r) => r.round)).toEqual([0, 1]);
    const storeAborts = rounds.filter((r) => r.status === 'aborted');
    expect(storeAborts.length).toBeGreaterThanOrEqual(1);
    expect(storeAborts.every((r) => /^store error: .*(locked|busy)/i.test(r.error ?? ''))).toBe(true);
    expect(errors.some((e) => /store write failed/.test(e) && /locked|busy/i.test(e))).toBe(true);
    // Operators were told, not only the log.
    expect(events.some((e) => e.type === 'log' && e.level === 'error' && /store write failed/.test(e.message))).toBe(true);
  }, 120_000);

  it('an operator resumes a stopped run: it continues from its last committed round, its aborted attempt forgiven', async () => {
    // maxAttempts 1: round 1's attempt aborted by the stop would fail the resumed run at once were it counted.
    const config = testConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 3 }, maxAttempts: 1 });
    const { c, rounds } = await startTestCoordinator(config);
    const clients = await startClients(c.url, 3);
    const runId = c.sqlite!.runs()[0]!.id;
    // Let round 0 complete, then stop the run between rounds.
    await new Promise<void>((resolve) => {
      const onEvent = (e: { type: string; status?: string }) => {
        if (e.type !== 'round' || e.status !== 'completed') return;
        c.manager.off('event', onEvent);
        resolve();
      };
      c.manager.on('event', onEvent);
    });
    const post = (action: string) => fetch(`${c.url}/api/runs/${runId}/${action}`, { method: 'POST', headers: auth });
    expect((await post('stop')).status).toBe(200);
    await c.manager.whenIdle();
    expect(c.sqlite!.run(runId)!.state).toBe('stopped');
    // Resumed: from round 1, its earlier attempt forgiven.
    const resumed = await post('resume');
    expect(resumed.status).toBe(200);
    await c.manager.whenIdle();
    const run = c.sqlite!.run(runId)!;
    // A completed run cannot be resumed: the reason is given.
    const again = await post('resume');
    await stopAll(c, clients);

    expect(run.state).toBe('completed');
    expect(rounds.filter((r) => r.status === 'completed').map((r) => r.round)).toEqual([0, 1]);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: expect.stringMatching(/is completed: only a failed or stopped run can be resumed/) });
  }, 120_000);
});
