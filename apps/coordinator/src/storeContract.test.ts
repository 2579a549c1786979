/**
 * The store contract (store.ts), one suite run against both implementations: SQLite in a temporary file and a
 * real Postgres server started by the test on a free loopback port (localServers.ts). What the coordinator
 * reads back after a restart or a failover must be the same whichever engine wrote it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type LocalServer, startPostgres } from './localServers.ts';
import { PostgresStore } from './postgresStore.ts';
import { SqliteStore } from './sqliteStore.ts';
import pg from 'pg';
import { asyncStore, FencedError, type LedgerEntry, ShardTakenError, type Store } from './store.ts';

let postgres: LocalServer | null = null;
let databases = 0;

beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);

afterAll(async () => {
  await postgres?.stop();
});

const engines: [string, () => Promise<Store>][] = [
  ['sqlite', async () => asyncStore(new SqliteStore(join(mkdtempSync(join(tmpdir(), 'hushfl-contract-')), 'hushfl.db')))],
  ['postgres', async () => PostgresStore.connect(await createDatabase(postgres!, `contract_${++databases}`))],
];

const RUN = { id: 'run-1', name: 'contract', config: '{"rounds":3}', state: 'running' as const, created_at: 1_700_000_000_000, dim: 4, ddg: '{"bits":16}' };
const LEDGER: LedgerEntry = { rdp: [0.5, 1.25], epsilon: 1.5, selectionShortfall: 1e-9, rdpCoordinator: [0.75, 2], charges: 1 };

async function withStore(open: () => Promise<Store>, body: (s: Store) => Promise<void>): Promise<void> {
  const s = await open();
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

describe.each(engines)('the %s store', (kind, open) => {
  it('says which engine it is', () =>
    withStore(open, async (s) => {
      expect(s.kind).toBe(kind);
    }));

  it('keeps runs: created, listed newest first, active ones oldest first, states and reasons', () =>
    withStore(open, async (s) => {
      expect(await s.run('run-1')).toBeUndefined();
      await s.createRun(RUN);
      await s.createRun({ ...RUN, id: 'run-2', created_at: RUN.created_at + 1 });
      const row = (await s.run('run-1'))!;
      expect(row).toMatchObject({ ...RUN, completed_round: -1, finished_at: null, reason: null });
      expect(typeof row.created_at).toBe('number');
      expect((await s.runs()).map((r) => r.id)).toEqual(['run-2', 'run-1']);
      expect((await s.activeRuns()).map((r) => r.id)).toEqual(['run-1', 'run-2']);
      await s.setRunState('run-2', 'failed', 'no quorum');
      const failed = (await s.run('run-2'))!;
      expect(failed.state).toBe('failed');
      expect(failed.reason).toBe('no quorum');
      expect(failed.finished_at).toBeGreaterThan(0);
      expect((await s.activeRuns()).map((r) => r.id)).toEqual(['run-1']);
      await s.reopenRun('run-2', 3);
      expect(await s.run('run-2')).toMatchObject({ state: 'running', reason: null, finished_at: null, attempt_floor: 3 });
      await expect(s.createRun(RUN)).rejects.toThrow();
    }));

  it('keeps every round attempt, its stage rows and participants, and aborts the ones a crash left running', () =>
    withStore(open, async (s) => {
      await s.createRun(RUN);
      await s.startRound({ run_id: 'run-1', round: 0, attempt: 1, selected: 3 });
      await s.addParticipants(
        ['a', 'b', 'c'].map((client_id, i) => ({ run_id: 'run-1', round: 0, attempt: 1, client_id, secagg_id: i + 1, contributions: 1 + i })),
      );
      await s.stageEvent({ run_id: 'run-1', round: 0, attempt: 1, stage: 'advertise-keys', phase: 'open' });
      await s.stageEvent({ run_id: 'run-1', round: 0, attempt: 1, stage: 'advertise-keys', phase: 'close', detail: { received: 3 } });
      await s.setParticipants('run-1', 0, 1, [{ clientId: 'b', status: 'dropped', stage: 'masked-input' }]);
      await s.finishRound({
        run_id: 'run-1',
        round: 0,
        attempt: 1,
        state: 'aborted',
        error: 'too few',
        durations: '{"a":1}',
        bytes_up: 5_000_000_000,
        delta_selection: Number.NaN,
      });
      await s.startRound({ run_id: 'run-1', round: 0, attempt: 2, selected: 3 });
      expect(await s.lastAttempt('run-1', 0)).toBe(2);
      expect(await s.lastAttempt('run-1', 1)).toBe(0);
      expect(await s.abortInterrupted('run-1', 'restarted')).toBe(1);
      expect(await s.abortInterrupted('run-1', 'restarted')).toBe(0);
      const rounds = await s.rounds('run-1');
      expect(rounds.map((r) => [r.round, r.attempt, r.state, r.error])).toEqual([
        [0, 1, 'aborted', 'too few'],
        [0, 2, 'aborted', 'restarted'],
      ]);
      expect(rounds[0]).toMatchObject({
        selected: 3,
        durations: '{"a":1}',
        dropped: '{}',
        bytes_up: 5_000_000_000,
        bytes_down: 0,
        contributions: null,
        delta_selection: null,
      });
      const stages = await s.stageEvents('run-1', 0);
      expect(stages.map((e) => [e.stage, e.phase, e.attempt, e.detail])).toEqual([
        ['advertise-keys', 'open', 1, null],
        ['advertise-keys', 'close', 1, '{"received":3}'],
      ]);
      expect(stages[0]!.at).toBeGreaterThan(0);
      expect(await s.participants('run-1', 0)).toEqual([
        { client_id: 'a', attempt: 1, secagg_id: 1, contributions: 1, status: 'selected', dropped_stage: null },
        { client_id: 'b', attempt: 1, secagg_id: 2, contributions: 2, status: 'dropped', dropped_stage: 'masked-input' },
        { client_id: 'c', attempt: 1, secagg_id: 3, contributions: 3, status: 'selected', dropped_stage: null },
      ]);
      // Every outcome of an attempt in one write: only that attempt's rows change, null stages stay null.
      await s.addParticipants(['a', 'c'].map((client_id, i) => ({ run_id: 'run-1', round: 0, attempt: 2, client_id, secagg_id: i + 1, contributions: 1 })));
      await s.setParticipants('run-1', 0, 2, [
        { clientId: 'a', status: 'finished', stage: null },
        { clientId: 'c', status: 'dropped', stage: 'unmasking' },
      ]);
      await s.setParticipants('run-1', 0, 2, []);
      expect((await s.participants('run-1', 0)).map((p) => [p.client_id, p.attempt, p.status, p.dropped_stage])).toEqual([
        ['a', 1, 'selected', null],
        ['b', 1, 'dropped', 'masked-input'],
        ['c', 1, 'selected', null],
        ['a', 2, 'finished', null],
        ['c', 2, 'dropped', 'unmasking'],
      ]);
      // A restarted attempt of the same key starts over.
      await s.startRound({ run_id: 'run-1', round: 0, attempt: 2, selected: 4 });
      expect((await s.rounds('run-1')).at(-1)).toMatchObject({ attempt: 2, state: 'running', selected: 4, error: null });
    }));

  it('writes the charge with its stage row, commits a round with its checkpoint and ledger, and reads the latest back', () =>
    withStore(open, async (s) => {
      await s.createRun(RUN);
      expect(await s.latestLedger('run-1')).toBeUndefined();
      await s.saveInitialCheckpoint('run-1', new Float32Array([1, 2, 3, 4]));
      expect(await s.latestCheckpoint('run-1')).toEqual({
        round: -1,
        weights: new Float32Array([1, 2, 3, 4]),
        optimizerState: { m: null, v: null },
        clip: null,
      });
      await s.startRound({ run_id: 'run-1', round: 0, attempt: 1, selected: 3 });
      await s.stageEventWithCharge({ run_id: 'run-1', round: 0, attempt: 1, stage: 'consistency-check', phase: 'close' }, LEDGER);
      expect(await s.latestLedger('run-1')).toEqual({ ...LEDGER, round: 0, attempt: 1 });
      expect((await s.stageEvents('run-1', 0)).map((e) => e.stage)).toEqual(['consistency-check']);
      const m = new Float32Array([0.5, -0.25, 0, 1e-7]);
      await s.commitRound({
        round: {
          run_id: 'run-1',
          round: 0,
          attempt: 1,
          state: 'completed',
          contributions: 3,
          parties: 3,
          epsilon: 1.5,
          epsilon_coordinator: 2.5,
          clip: 0.9,
          federated_accuracy: 0.5,
        },
        ledger: null,
        weights: new Float32Array([1.5, 2, 3, Math.PI]),
        optimizerState: { m, v: null },
        clip: 0.8,
      });
      expect((await s.run('run-1'))!.completed_round).toBe(0);
      expect(await s.latestCheckpoint('run-1')).toEqual({
        round: 0,
        weights: new Float32Array([1.5, 2, 3, Math.PI]),
        optimizerState: { m, v: null },
        clip: 0.8,
      });
      const [row] = await s.rounds('run-1');
      expect(row).toMatchObject({
        state: 'completed',
        contributions: 3,
        parties: 3,
        epsilon: 1.5,
        epsilon_coordinator: 2.5,
        clip: 0.9,
        federated_accuracy: 0.5,
        federated_loss: null,
      });
      await s.setRoundEvaluation('run-1', 0, 1, 0.75, 0.3);
      expect((await s.rounds('run-1'))[0]).toMatchObject({ accuracy: 0.75, loss: 0.3 });
      // A later attempt of the same round replaces the round's ledger entry; a later round supersedes it.
      await s.stageEventWithCharge(
        { run_id: 'run-1', round: 1, attempt: 1, stage: 'consistency-check', phase: 'close' },
        { ...LEDGER, epsilon: 2, charges: 2 },
      );
      await s.stageEventWithCharge(
        { run_id: 'run-1', round: 1, attempt: 2, stage: 'consistency-check', phase: 'close' },
        { ...LEDGER, epsilon: 2.5, charges: 3 },
      );
      expect(await s.latestLedger('run-1')).toMatchObject({ round: 1, attempt: 2, epsilon: 2.5, charges: 3 });
      const v = new Float32Array([1, 1, 1, 1]);
      await s.commitRound({
        round: { run_id: 'run-1', round: 1, attempt: 2, state: 'completed' },
        ledger: { ...LEDGER, epsilon: 2.5, charges: 3 },
        weights: v,
        optimizerState: { m, v },
        clip: null,
      });
      expect(await s.latestCheckpoint('run-1')).toMatchObject({ round: 1, optimizerState: { m, v }, clip: null });
    }));

  it('keeps excluded parties (the first reason)', () =>
    withStore(open, async (s) => {
      await s.excludeParty({ run_id: 'run-1', client_id: 'x', reason: 'equivocated', round: 2, attempt: 1 });
      await s.excludeParty({ run_id: 'run-1', client_id: 'x', reason: 'later', round: 3, attempt: 1 });
      const rows = await s.excludedParties('run-1');
      expect(rows.map(({ at: _at, ...r }) => r)).toEqual([{ client_id: 'x', reason: 'equivocated', round: 2, attempt: 1 }]);
      expect(await s.excludedParties('run-2')).toEqual([]);
    }));

  it('keeps client identities and one holder per shard, moves a shard to its new holder, prunes stale ones', () =>
    withStore(open, async (s) => {
      const id = (n: string, shards: number[]) => ({ id: n, token_hash: `h-${n}`, name: null, mini_clients: Math.max(1, shards.length), shards });
      await s.upsertClientWithShards(id('alice', [3, 4]), 10);
      await s.upsertClientWithShards(id('bob', [5]), 10);
      expect(await s.client('alice')).toEqual({ id: 'alice', token_hash: 'h-alice', mini_clients: 2, shards: [3, 4] });
      expect(await s.shardsOf('alice')).toEqual([3, 4]);
      // Carol takes shard 14 ≡ 4 (mod 10): alice gives it up.
      await s.upsertClientWithShards(id('carol', [14]), 10);
      expect(await s.shardsOf('alice')).toEqual([3]);
      expect((await s.client('alice'))!.shards).toEqual([3]);
      expect((await s.shardAssignments()).map((a) => [a.shard, a.client_id])).toEqual([
        [3, 'alice'],
        [5, 'bob'],
        [14, 'carol'],
      ]);
      expect(await s.clientCount()).toBe(3);
      // Bob finished a round: kept however stale. Carol is connected now: kept.
      await s.addParticipants([{ run_id: 'run-1', round: 0, attempt: 1, client_id: 'bob', secagg_id: 1, contributions: 1 }]);
      await s.setParticipants('run-1', 0, 1, [{ clientId: 'bob', status: 'finished', stage: null }]);
      expect(await s.pruneClients(Date.now() + 1000, ['carol'])).toEqual(['alice']);
      expect(await s.client('alice')).toBeUndefined();
      expect((await s.shardAssignments()).map((a) => a.client_id)).toEqual(['bob', 'carol']);
      expect(await s.pruneClients(0, [])).toEqual([]);
      const before = (await s.shardAssignments()).find((a) => a.client_id === 'bob')!.last_seen;
      await new Promise((r) => setTimeout(r, 5));
      await s.touchClient('bob');
      expect((await s.shardAssignments()).find((a) => a.client_id === 'bob')!.last_seen).toBeGreaterThan(before);
    }));

  it('redeems a join code once', () =>
    withStore(open, async (s) => {
      await s.addJoinCodes(['code-a', 'code-b']);
      expect(await s.joinCode('code-a')).toEqual({ used_at: null, client_id: null });
      expect(await s.joinCode('nope')).toBeUndefined();
      expect(await s.redeemJoinCode('code-a', 'alice')).toBe(true);
      expect(await s.redeemJoinCode('code-a', 'mallory')).toBe(false);
      expect(await s.redeemJoinCode('nope', 'mallory')).toBe(false);
      expect(await s.joinCode('code-a')).toMatchObject({ client_id: 'alice' });
      await expect(s.addJoinCodes(['code-b'])).rejects.toThrow();
    }));
});

describe('the Postgres store', () => {
  it('is opened by several nodes at once (one creates the tables), and each sees what the other wrote', async () => {
    const url = await createDatabase(postgres!, 'contract_shared');
    const [a, b] = await Promise.all([PostgresStore.connect(url), PostgresStore.connect(url)]);
    try {
      await a.createRun(RUN);
      expect((await b.run('run-1'))!.name).toBe('contract');
      // One free shard, two nodes whose hellos overlap: another node's transaction has taken shard 7 and not yet
      // committed when this node's hello, which saw it free, inserts it. This one waits on the key, then loses,
      // and is told so (the gateway chooses again); the other keeps the shard.
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query("INSERT INTO shard_assignments (shard, client_id, slot, assigned_at) VALUES (7, 'y', 0, 1)");
        const mine = a.upsertClientWithShards({ id: 'x', token_hash: 'h', name: null, mini_clients: 1, shards: [7] }, 10);
        const settled = mine.then(
          () => 'stored',
          (e: unknown) => e,
        );
        // Still waiting on the other transaction's key, not stored past it.
        expect(await Promise.race([settled, new Promise((r) => setTimeout(() => r('waiting'), 300))])).toBe('waiting');
        await other.query('COMMIT');
        expect(await settled).toBeInstanceOf(ShardTakenError);
      } finally {
        await other.end();
      }
      expect((await b.shardAssignments()).filter((r) => r.shard === 7).map((r) => r.client_id)).toEqual(['y']);
      // Its transaction rolled back whole: no client row half-written either.
      expect(await b.client('x')).toBeUndefined();
      // Without an overlap the same hello simply takes a free shard.
      await a.upsertClientWithShards({ id: 'x', token_hash: 'h', name: null, mini_clients: 1, shards: [8] }, 10);
      expect(await b.shardsOf('x')).toEqual([8]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('fences a deposed leader: after another node takes a newer token, its run writes fail and change nothing', async () => {
    const url = await createDatabase(postgres!, 'contract_fence');
    const [a, b] = await Promise.all([PostgresStore.connect(url), PostgresStore.connect(url)]);
    try {
      const first = await a.takeFence();
      await a.createRun(RUN);
      await a.startRound({ run_id: 'run-1', round: 0, attempt: 1, selected: 3 });
      // b takes over (a stalled past its lease, say): a newer token.
      expect(await b.takeFence()).toBeGreaterThan(first);
      const commit = {
        round: { run_id: 'run-1', round: 0, attempt: 1, state: 'completed' as const },
        ledger: LEDGER,
        weights: new Float32Array([1, 2, 3, 4]),
        optimizerState: { m: null, v: null },
        clip: null,
      };
      // Each kind of run write from a, thawed: refused, none written.
      await expect(a.setRunState('run-1', 'failed', 'a thinks it leads')).rejects.toBeInstanceOf(FencedError);
      await expect(a.commitRound(commit)).rejects.toBeInstanceOf(FencedError);
      await expect(a.stageEventWithCharge({ run_id: 'run-1', round: 0, attempt: 1, stage: 'unmasking', phase: 'start' }, LEDGER)).rejects.toBeInstanceOf(
        FencedError,
      );
      await expect(a.setParticipants('run-1', 0, 1, [{ clientId: 'c1', status: 'dropped', stage: 'training' }])).rejects.toThrow(/another node has taken/);
      expect((await b.run('run-1'))!.state).toBe('running');
      expect(await b.latestLedger('run-1')).toBeUndefined();
      expect(await b.latestCheckpoint('run-1')).toBeUndefined();
      expect(await b.stageEvents('run-1', 0)).toEqual([]);
      // The new leader writes; client identities (any node's, unfenced) still go through from a.
      await b.commitRound(commit);
      expect((await b.latestLedger('run-1'))!.epsilon).toBe(LEDGER.epsilon);
      await a.upsertClient({ id: 'c9', token_hash: 'h', name: null, mini_clients: 1, shards: [] });
      expect(await b.client('c9')).toBeDefined();
      // A write in flight (its fence check done, not committed) holds the bump back: the successor's token is
      // taken only once that write has landed, so it reads what the write wrote, or the write fails.
      const inFlight = new pg.Client({ connectionString: url });
      await inFlight.connect();
      try {
        await inFlight.query('BEGIN');
        await inFlight.query('SELECT token FROM leader_fence WHERE id = 1 FOR SHARE');
        const bump = a.takeFence().then((t) => t);
        expect(await Promise.race([bump, new Promise((r) => setTimeout(() => r('waiting'), 300))])).toBe('waiting');
        await inFlight.query('COMMIT');
        expect(await bump).toBeGreaterThan(first);
      } finally {
        await inFlight.end();
      }
      // a, holding the newest token now, writes.
      await a.setRunState('run-1', 'completed');
      await expect(b.setRunState('run-1', 'failed')).rejects.toBeInstanceOf(FencedError);
      expect((await a.run('run-1'))!.state).toBe('completed');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
