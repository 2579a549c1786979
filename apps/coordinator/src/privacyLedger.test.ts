/**
 * Issue 12 §2 and §3 at the coordinator, over real Socket.IO and a real SQLite file: n_min counts parties
 * (connections), never the mini-clients one declares; and a round's privacy is written to the ledger in the
 * transaction of the stage row that precedes its unmask requests, so a coordinator that stops or dies after
 * they went out has spent it — also after a restart.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accountDdg } from '@hushfl/ddp';
import type { DdgPlan } from '@hushfl/engine';
import type { CoordinatorEvent } from './runManager.ts';
import { SqliteStore } from './sqliteStore.ts';
import { startClients, startTestCoordinator, stopAll, testConfig } from './testing.ts';

describe('n_min counts parties at the coordinator (issue 12 §2)', () => {
  it('one honest socket and one claiming 16 mini-clients (then a third party) are never released as a round "of 17" with minClients 10', async () => {
    const { c, rounds, events } = await startTestCoordinator(testConfig({ rounds: 1, minClients: 10, selection: { clientsPerRound: 17 }, maxMiniClients: 16 }));
    const clients = await startClients(c.url, 2, (i) => ({ miniClients: i === 0 ? 1 : 16 }));
    // Selection retries every 500 ms: give it several chances, with two parties and then with three (SecAgg's
    // own floor), 17 and 18 contributions on offer.
    await new Promise((r) => setTimeout(r, 1_500));
    const statusWithTwo = c.manager.status();
    clients.push(...(await startClients(c.url, 1)));
    await new Promise((r) => setTimeout(r, 1_500));
    const runId = c.sqlite!.runs()[0]!.id;
    const stored = c.sqlite!.rounds(runId);
    const status = c.manager.status();
    await stopAll(c, clients);
    expect(statusWithTwo).toMatchObject({ state: 'waiting', clientsConnected: 2 });
    expect(events.filter((e) => e.type === 'round-start')).toEqual([]);
    expect(rounds).toEqual([]);
    expect(stored).toEqual([]);
    expect(status).toMatchObject({ state: 'waiting', clientsConnected: 3 });
  });
});

describe('privacy is spent before the sum is computable (issue 12 §3)', () => {
  it('a coordinator closed — or killed — between the unmask requests and the commit has charged ε, also after a restart', async () => {
    const ddg = { bits: 16, gamma: 1e-3, localStddev: 0.05, delta: 1e-5 };
    const config = testConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 3 }, ddg });
    const first = await startTestCoordinator(config);
    const crashDir = mkdtempSync(join(tmpdir(), 'hushfl-crash-'));
    let cut = false;
    let closing: Promise<void> | null = null;
    let ledgerAtRequests: ReturnType<SqliteStore['latestLedger']> | undefined;
    // The notice that Unmasking opened comes right after the engine's unmask requests were sent, in the same
    // step: a shutdown dispatched here is the next event the run handles, before any client can answer.
    first.c.manager.on('event', (e: CoordinatorEvent) => {
      if (cut || e.type !== 'stage' || e.stage !== 'unmasking' || e.phase !== 'open') return;
      cut = true;
      ledgerAtRequests = first.c.sqlite!.latestLedger(e.runId);
      // What a SIGKILL now would leave on disk: the database and its write-ahead log, copied as they are.
      mkdirSync(join(crashDir, 'runs'), { recursive: true });
      for (const f of ['hushfl.db', 'hushfl.db-wal']) if (existsSync(join(first.dataDir, f))) copyFileSync(join(first.dataDir, f), join(crashDir, f));
      closing = first.c.manager.close();
    });
    const clients = await startClients(first.c.url, 3);
    await expect.poll(() => cut, { timeout: 60_000, interval: 20 }).toBe(true);
    await closing;
    const runId = first.c.sqlite!.runs()[0]!.id;
    const plan = JSON.parse(first.c.sqlite!.run(runId)!.ddg) as DdgPlan;
    const epsilonAfter = (charges: number) =>
      accountDdg({
        clip: plan.params.clip,
        gamma: plan.params.gamma,
        beta: plan.params.beta,
        dimPadded: plan.dimPadded,
        clients: 3,
        localStddev: plan.params.localStddev,
        sampleRate: 1,
        rounds: charges,
        delta: plan.delta,
      }).epsilon;
    const one = epsilonAfter(1);
    // The charge was on disk before the first unmask request went out, and the attempt ended aborted and charged.
    expect(ledgerAtRequests).toMatchObject({ round: 0, attempt: 1, charges: 1 });
    expect(ledgerAtRequests!.epsilon).toBeCloseTo(one, 9);
    const aborted = first.c.sqlite!.rounds(runId);
    expect(aborted).toEqual([expect.objectContaining({ round: 0, attempt: 1, state: 'aborted', error: 'coordinator shutting down', parties: 3 })]);
    expect(aborted[0]!.epsilon).toBeCloseTo(one, 9);
    expect(first.c.sqlite!.run(runId)!.completed_round).toBe(-1);
    const stageRow = first.c.sqlite!.stageEvents(runId, 0).find((s) => s.stage === 'consistency-check' && s.phase === 'closed');
    expect(stageRow).toBeDefined();
    await stopAll(first.c, clients);

    // Restart on the same data directory: the run resumes with the aborted attempt charged, and its two
    // rounds add two more charges — three in all, none twice.
    const second = await startTestCoordinator(undefined, first.dataDir);
    expect(second.c.manager.status()).toMatchObject({ runId });
    expect(second.c.manager.status().epsilon).toBeCloseTo(one, 9);
    const more = await startClients(second.c.url, 3);
    await second.c.manager.whenIdle();
    const rows = second.c.sqlite!.rounds(runId);
    const ledger = second.c.sqlite!.latestLedger(runId)!;
    await stopAll(second.c, more);
    expect(rows.map((r) => [r.round, r.attempt, r.state])).toEqual([
      [0, 1, 'aborted'],
      [0, 2, 'completed'],
      [1, 1, 'completed'],
    ]);
    expect(ledger.charges).toBe(3);
    expect(ledger.epsilon).toBeCloseTo(epsilonAfter(3), 9);
    expect(rows.at(-1)!.epsilon).toBeCloseTo(epsilonAfter(3), 9);
    expect(rows.at(-1)!.epsilon_coordinator).toBeCloseTo(epsilonAfter(3), 9);

    // The crash image: the attempt is still 'running' there, its charge already in the ledger; a coordinator
    // started on it aborts the attempt and resumes with ε charged.
    const image = new SqliteStore(join(crashDir, 'hushfl.db'));
    expect(image.rounds(runId).map((r) => r.state)).toEqual(['running']);
    expect(image.latestLedger(runId)!.epsilon).toBeCloseTo(one, 9);
    image.close();
    const revived = await startTestCoordinator(undefined, crashDir);
    const revivedStatus = revived.c.manager.status();
    const revivedRows = revived.c.sqlite!.rounds(runId);
    await revived.c.close();
    expect(revivedStatus).toMatchObject({ runId });
    expect(revivedStatus.epsilon).toBeCloseTo(one, 9);
    expect(revivedRows).toEqual([expect.objectContaining({ state: 'aborted', error: expect.stringMatching(/coordinator restarted during the round/) })]);
  });
});
