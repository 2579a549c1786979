/**
 * The store in Postgres (node-postgres): what coordinator nodes of a cluster share (issue 17 §1). The same
 * tables as sqliteStore.ts, so both pass storeContract.test.ts. The atomic writes are transactions on one
 * pooled connection; a commit returns once its WAL record is flushed (Postgres's default synchronous_commit =
 * on), which is what the write-ahead charge needs. Two nodes that race for one free shard cannot both hold
 * it: shard_assignments' primary key refuses the second, whose hello is then refused and retried.
 */
import pg from 'pg';
import type { RunState } from '@hushfl/protocol';
import {
  type Checkpoint,
  CHECKPOINT_COLUMNS,
  type CheckpointRow,
  checkpointOf,
  f32Bytes,
  type ClientIdentity,
  type ClientUpsert,
  type ExcludedParty,
  FEDERATED_COLUMNS,
  LEDGER_COLUMNS,
  type LedgerEntry,
  ledgerOf,
  type LedgerRow,
  type ParticipantOutcome,
  type ParticipantRow,
  type RoundCommit,
  ROUND_DEFAULTS,
  type RoundRow,
  type RunRow,
  type StageEventInput,
  FencedError,
  ShardTakenError,
  type Store,
} from './store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL,
  created_at BIGINT NOT NULL, finished_at BIGINT, completed_round INTEGER NOT NULL DEFAULT -1,
  dim INTEGER NOT NULL, ddg TEXT NOT NULL, reason TEXT, attempt_floor INTEGER
);
CREATE TABLE IF NOT EXISTS rounds (
  run_id TEXT NOT NULL, round INTEGER NOT NULL, attempt INTEGER NOT NULL, state TEXT NOT NULL,
  started_at BIGINT NOT NULL, finished_at BIGINT, contributions INTEGER, accuracy DOUBLE PRECISION, loss DOUBLE PRECISION,
  epsilon DOUBLE PRECISION, error TEXT, durations TEXT NOT NULL DEFAULT '{}', dropped TEXT NOT NULL DEFAULT '{}',
  bytes_up BIGINT NOT NULL DEFAULT 0, bytes_down BIGINT NOT NULL DEFAULT 0, selected INTEGER NOT NULL DEFAULT 0,
  epsilon_coordinator DOUBLE PRECISION, delta_selection DOUBLE PRECISION, parties INTEGER, excused TEXT,
  clip DOUBLE PRECISION, clip_fraction DOUBLE PRECISION,
  ${FEDERATED_COLUMNS.map((c) => `${c} DOUBLE PRECISION`).join(', ')},
  PRIMARY KEY (run_id, round, attempt)
);
CREATE TABLE IF NOT EXISTS stage_events (
  id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, round INTEGER NOT NULL, attempt INTEGER NOT NULL,
  stage TEXT NOT NULL, phase TEXT NOT NULL, at BIGINT NOT NULL, detail TEXT
);
CREATE INDEX IF NOT EXISTS stage_events_by_round ON stage_events (run_id, round);
CREATE TABLE IF NOT EXISTS participants (
  run_id TEXT NOT NULL, round INTEGER NOT NULL, attempt INTEGER NOT NULL, client_id TEXT NOT NULL,
  secagg_id INTEGER NOT NULL, contributions INTEGER NOT NULL, status TEXT NOT NULL, dropped_stage TEXT,
  PRIMARY KEY (run_id, round, attempt, client_id)
);
CREATE INDEX IF NOT EXISTS participants_by_client ON participants (client_id, status);
CREATE TABLE IF NOT EXISTS ledger (
  run_id TEXT NOT NULL, round INTEGER NOT NULL, rdp TEXT NOT NULL, epsilon DOUBLE PRECISION NOT NULL,
  selection_shortfall DOUBLE PRECISION NOT NULL DEFAULT 0, attempt INTEGER, rdp_coordinator TEXT, charges INTEGER,
  PRIMARY KEY (run_id, round)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  run_id TEXT NOT NULL, round INTEGER NOT NULL, weights BYTEA NOT NULL, momentum BYTEA, second_moment BYTEA,
  clip DOUBLE PRECISION, created_at BIGINT NOT NULL,
  PRIMARY KEY (run_id, round)
);
CREATE TABLE IF NOT EXISTS excluded_parties (
  run_id TEXT NOT NULL, client_id TEXT NOT NULL, reason TEXT NOT NULL, round INTEGER NOT NULL, attempt INTEGER NOT NULL,
  at BIGINT NOT NULL, PRIMARY KEY (run_id, client_id)
);
CREATE TABLE IF NOT EXISTS clients (
  id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created_at BIGINT NOT NULL, last_seen BIGINT NOT NULL,
  name TEXT, mini_clients INTEGER NOT NULL DEFAULT 1, shards TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS join_codes (
  code_hash TEXT PRIMARY KEY, created_at BIGINT NOT NULL, used_at BIGINT, client_id TEXT
);
CREATE TABLE IF NOT EXISTS shard_assignments (
  shard INTEGER PRIMARY KEY, client_id TEXT NOT NULL, slot INTEGER NOT NULL, assigned_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS shard_assignments_by_client ON shard_assignments (client_id, slot);
CREATE TABLE IF NOT EXISTS leader_fence (id INTEGER PRIMARY KEY, token BIGINT NOT NULL);
INSERT INTO leader_fence (id, token) VALUES (1, 0) ON CONFLICT DO NOTHING;
`;

/** Schema creation from several nodes at once: one at a time (CREATE ... IF NOT EXISTS still races in Postgres). */
const SCHEMA_LOCK = 0x6875_7368; // "hush"

/** BIGINT (timestamps, byte counts, COUNT(*)) as a JS number: every value stored is below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

type Queryable = Pick<pg.PoolClient, 'query'>;

/** The columns finishRound sets, in its parameter order ($5 onwards; $1–$4 are the key and finished_at). */
const FINISH_COLUMNS = [...Object.keys(ROUND_DEFAULTS), 'state'] as const;

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;

  /** The fencing token this node leads under (takeFence); null: run writes unchecked (one node alone). */
  private fence: number | null = null;

  private constructor(private readonly pool: pg.Pool) {}

  /** Connects, creates the tables where missing, and answers once the database is usable. */
  static async connect(url: string, o: { max?: number } = {}): Promise<PostgresStore> {
    // A node that stalls inside a transaction (its event loop frozen mid-write) must not hold the fence row's
    // lock for ever: Postgres ends such a session after 10 s, so a successor's takeFence waits at most that.
    const pool = new pg.Pool({ connectionString: url, max: o.max ?? 10, types, options: '-c idle_in_transaction_session_timeout=10000' });
    // A connection that fails while idle (the server restarted) is dropped by the pool; it must not crash us.
    pool.on('error', () => undefined);
    const store = new PostgresStore(pool);
    try {
      await store.tx(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await c.query(SCHEMA);
      });
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
    return store;
  }

  private async tx<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      // Read committed whatever the server's default: a fenced write must see a newer token, not fail to serialize.
      await c.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  /**
   * Fencing (Kleppmann's fencing tokens, with the token in the store itself): a new leader bumps the token;
   * each run write first takes the fence row FOR SHARE and checks it still holds the newest. The bump
   * (UPDATE) waits for a write in flight, and a write after the bump sees the new token: a deposed leader's
   * writes either land before its successor reads the store or not at all.
   */
  async takeFence(): Promise<number> {
    const [r] = await this.rows<{ token: number }>('UPDATE leader_fence SET token = token + 1 WHERE id = 1 RETURNING token');
    this.fence = r!.token;
    return this.fence;
  }

  private async checkFence(q: Queryable): Promise<void> {
    if (this.fence === null) return;
    const [r] = await this.rows<{ token: number }>('SELECT token FROM leader_fence WHERE id = 1 FOR SHARE', [], q);
    if (r?.token !== this.fence)
      throw new FencedError(`this node no longer leads: it took fencing token ${this.fence}, and another node has taken ${r?.token} since`);
  }

  /** A transaction of run writes: fenced (checkFence first) once this node has taken a token. */
  private runTx<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    return this.tx(async (c) => {
      await this.checkFence(c);
      return fn(c);
    });
  }

  /** One run write: a plain statement on one node alone; in a transaction with the fence check once fenced. */
  private runWrite(sql: string, params: unknown[], q?: Queryable): Promise<pg.QueryResult> {
    if (q) return q.query(sql, params); // inside a runTx: checked already
    if (this.fence === null) return this.pool.query(sql, params);
    return this.runTx((c) => c.query(sql, params));
  }

  private async rows<T>(sql: string, params: unknown[] = [], q: Queryable = this.pool): Promise<T[]> {
    return (await q.query(sql, params)).rows as T[];
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async createRun(r: Omit<RunRow, 'finished_at' | 'completed_round' | 'reason'>): Promise<void> {
    await this.runWrite('INSERT INTO runs (id, name, config, state, created_at, dim, ddg) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      r.id,
      r.name,
      r.config,
      r.state,
      r.created_at,
      r.dim,
      r.ddg,
    ]);
  }

  async run(id: string): Promise<RunRow | undefined> {
    return (await this.rows<RunRow>('SELECT * FROM runs WHERE id = $1', [id]))[0];
  }

  runs(): Promise<RunRow[]> {
    return this.rows('SELECT * FROM runs ORDER BY created_at DESC');
  }

  activeRuns(): Promise<RunRow[]> {
    return this.rows("SELECT * FROM runs WHERE state IN ('running', 'paused') ORDER BY created_at");
  }

  async setRunState(id: string, state: RunState, reason: string | null = null): Promise<void> {
    const finished = state === 'completed' || state === 'failed' || state === 'stopped' ? Date.now() : null;
    await this.runWrite('UPDATE runs SET state = $1, reason = $2, finished_at = $3 WHERE id = $4', [state, reason, finished, id]);
  }

  async startRound(r: { run_id: string; round: number; attempt: number; selected: number }): Promise<void> {
    // As SQLite's INSERT OR REPLACE: a row of the same key starts over.
    await this.runTx(async (q) => {
      await q.query('DELETE FROM rounds WHERE run_id = $1 AND round = $2 AND attempt = $3', [r.run_id, r.round, r.attempt]);
      await q.query("INSERT INTO rounds (run_id, round, attempt, state, started_at, selected) VALUES ($1, $2, $3, 'running', $4, $5)", [
        r.run_id,
        r.round,
        r.attempt,
        Date.now(),
        r.selected,
      ]);
    });
  }

  finishRound(r: Partial<RoundRow> & { run_id: string; round: number; attempt: number; state: 'completed' | 'aborted' }): Promise<void> {
    return this.writeFinishRound(r);
  }

  /** finishRound inside a caller's fenced transaction `q` (private: a caller outside runTx must not skip the fence). */
  private writeFinishRound(
    r: Partial<RoundRow> & { run_id: string; round: number; attempt: number; state: 'completed' | 'aborted' },
    q?: Queryable,
  ): Promise<void> {
    const row: Record<string, unknown> = { ...ROUND_DEFAULTS, ...r };
    const sets = FINISH_COLUMNS.map((c, i) => `${c} = $${i + 5}`).join(', ');
    return this.runWrite(
      `UPDATE rounds SET finished_at = $4, ${sets} WHERE run_id = $1 AND round = $2 AND attempt = $3`,
      [
        r.run_id,
        r.round,
        r.attempt,
        Date.now(),
        // NaN as NULL, as SQLite stores it (a round's δ of selection is NaN before it is known).
        ...FINISH_COLUMNS.map((c) => (Number.isNaN(row[c]) ? null : (row[c] ?? null))),
      ],
      q,
    ).then(() => undefined);
  }

  async setRoundEvaluation(runId: string, round: number, attempt: number, accuracy: number | null, loss: number | null): Promise<void> {
    await this.runWrite('UPDATE rounds SET accuracy = $1, loss = $2 WHERE run_id = $3 AND round = $4 AND attempt = $5', [
      accuracy,
      loss,
      runId,
      round,
      attempt,
    ]);
  }

  async excludeParty(e: { run_id: string; client_id: string; reason: string; round: number; attempt: number }): Promise<void> {
    await this.runWrite('INSERT INTO excluded_parties (run_id, client_id, reason, round, attempt, at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING', [
      e.run_id,
      e.client_id,
      e.reason,
      e.round,
      e.attempt,
      Date.now(),
    ]);
  }

  excludedParties(runId: string): Promise<ExcludedParty[]> {
    return this.rows('SELECT client_id, reason, round, attempt, at FROM excluded_parties WHERE run_id = $1 ORDER BY at', [runId]);
  }

  async reopenRun(id: string, attemptFloor: number): Promise<void> {
    await this.runWrite("UPDATE runs SET state = 'running', reason = NULL, finished_at = NULL, attempt_floor = $1 WHERE id = $2", [attemptFloor, id]);
  }

  async abortInterrupted(runId: string, reason: string): Promise<number> {
    const r = await this.runWrite("UPDATE rounds SET state = 'aborted', error = $1, finished_at = $2 WHERE run_id = $3 AND state = 'running'", [
      reason,
      Date.now(),
      runId,
    ]);
    return r.rowCount ?? 0;
  }

  rounds(runId: string): Promise<RoundRow[]> {
    return this.rows('SELECT * FROM rounds WHERE run_id = $1 ORDER BY round, attempt', [runId]);
  }

  async lastAttempt(runId: string, round: number): Promise<number> {
    const [r] = await this.rows<{ a: number | null }>('SELECT MAX(attempt) AS a FROM rounds WHERE run_id = $1 AND round = $2', [runId, round]);
    return r?.a ?? 0;
  }

  stageEvent(e: StageEventInput): Promise<void> {
    return this.writeStageEvent(e);
  }

  /** stageEvent inside a caller's fenced transaction `q` (private, like writeFinishRound). */
  private async writeStageEvent(e: StageEventInput, q?: Queryable): Promise<void> {
    await this.runWrite(
      'INSERT INTO stage_events (run_id, round, attempt, stage, phase, at, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [e.run_id, e.round, e.attempt, e.stage, e.phase, Date.now(), e.detail === undefined ? null : JSON.stringify(e.detail)],
      q,
    );
  }

  stageEventWithCharge(e: StageEventInput, ledger: LedgerEntry | null): Promise<void> {
    return this.runTx(async (c) => {
      await this.writeStageEvent(e, c);
      if (ledger) await this.writeLedger(c, e.run_id, e.round, e.attempt, ledger);
    });
  }

  /** The cumulative ledger after a charge; a later attempt of the same round replaces it (it holds it). */
  private async writeLedger(q: Queryable, runId: string, round: number, attempt: number | null, l: LedgerEntry): Promise<void> {
    await q.query(
      `INSERT INTO ledger (run_id, round, attempt, rdp, epsilon, selection_shortfall, rdp_coordinator, charges) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (run_id, round) DO UPDATE SET attempt = EXCLUDED.attempt, rdp = EXCLUDED.rdp, epsilon = EXCLUDED.epsilon,
         selection_shortfall = EXCLUDED.selection_shortfall, rdp_coordinator = EXCLUDED.rdp_coordinator, charges = EXCLUDED.charges`,
      [
        runId,
        round,
        attempt,
        JSON.stringify(l.rdp),
        l.epsilon,
        l.selectionShortfall,
        l.rdpCoordinator ? JSON.stringify(l.rdpCoordinator) : null,
        l.charges ?? null,
      ],
    );
  }

  stageEvents(runId: string, round: number): Promise<{ stage: string; phase: string; at: number; attempt: number; detail: string | null }[]> {
    return this.rows('SELECT stage, phase, at, attempt, detail FROM stage_events WHERE run_id = $1 AND round = $2 ORDER BY id', [runId, round]);
  }

  addParticipants(rows: { run_id: string; round: number; attempt: number; client_id: string; secagg_id: number; contributions: number }[]): Promise<void> {
    if (!rows.length) return Promise.resolve();
    // One statement for the whole selection (a round of 1 000 parties is one round trip): arrays unnested.
    return this.runWrite(
      `INSERT INTO participants (run_id, round, attempt, client_id, secagg_id, contributions, status)
         SELECT $1, $2, $3, u.client_id, u.secagg_id, u.contributions, 'selected' FROM unnest($4::text[], $5::int[], $6::int[]) AS u(client_id, secagg_id, contributions)
         ON CONFLICT (run_id, round, attempt, client_id) DO UPDATE SET secagg_id = EXCLUDED.secagg_id, contributions = EXCLUDED.contributions, status = 'selected', dropped_stage = NULL`,
      [rows[0]!.run_id, rows[0]!.round, rows[0]!.attempt, rows.map((r) => r.client_id), rows.map((r) => r.secagg_id), rows.map((r) => r.contributions)],
    ).then(() => {
      // Rows of several attempts in one call (never done by the engine): the rest one statement each.
      const rest = rows.filter((r) => r.run_id !== rows[0]!.run_id || r.round !== rows[0]!.round || r.attempt !== rows[0]!.attempt);
      return rest.length ? this.addParticipants(rest) : undefined;
    });
  }

  async setParticipants(runId: string, round: number, attempt: number, outcomes: readonly ParticipantOutcome[]): Promise<void> {
    if (!outcomes.length) return;
    // One fenced statement for the whole attempt, the outcomes unnested (issue 17 review: not one transaction each).
    await this.runWrite(
      `UPDATE participants AS p SET status = u.status, dropped_stage = u.stage
         FROM unnest($4::text[], $5::text[], $6::text[]) AS u(client_id, status, stage)
         WHERE p.run_id = $1 AND p.round = $2 AND p.attempt = $3 AND p.client_id = u.client_id`,
      [runId, round, attempt, outcomes.map((o) => o.clientId), outcomes.map((o) => o.status), outcomes.map((o) => o.stage)],
    );
  }

  participants(runId: string, round: number): Promise<ParticipantRow[]> {
    return this.rows(
      'SELECT client_id, attempt, secagg_id, contributions, status, dropped_stage FROM participants WHERE run_id = $1 AND round = $2 ORDER BY attempt, secagg_id',
      [runId, round],
    );
  }

  commitRound(c: RoundCommit): Promise<void> {
    return this.runTx(async (q) => {
      await this.writeFinishRound(c.round, q);
      // Null when the attempt was charged at its unmask requests (stageEventWithCharge): never written twice.
      if (c.ledger) await this.writeLedger(q, c.round.run_id, c.round.round, c.round.attempt, c.ledger);
      await q.query(
        `INSERT INTO checkpoints (run_id, round, weights, momentum, second_moment, clip, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (run_id, round) DO UPDATE SET weights = EXCLUDED.weights, momentum = EXCLUDED.momentum, second_moment = EXCLUDED.second_moment,
           clip = EXCLUDED.clip, created_at = EXCLUDED.created_at`,
        [
          c.round.run_id,
          c.round.round,
          f32Bytes(c.weights),
          c.optimizerState.m ? f32Bytes(c.optimizerState.m) : null,
          c.optimizerState.v ? f32Bytes(c.optimizerState.v) : null,
          c.clip,
          Date.now(),
        ],
      );
      // An operator's forgiveness of aborted attempts (reopenRun) is for the round it was given at.
      await q.query('UPDATE runs SET completed_round = $1, attempt_floor = NULL WHERE id = $2', [c.round.round, c.round.run_id]);
    });
  }

  async saveInitialCheckpoint(runId: string, weights: Float32Array): Promise<void> {
    await this.runWrite(
      `INSERT INTO checkpoints (run_id, round, weights, momentum, created_at) VALUES ($1, -1, $2, NULL, $3)
       ON CONFLICT (run_id, round) DO UPDATE SET weights = EXCLUDED.weights, momentum = NULL, second_moment = NULL, clip = NULL, created_at = EXCLUDED.created_at`,
      [runId, f32Bytes(weights), Date.now()],
    );
  }

  async latestCheckpoint(runId: string): Promise<Checkpoint | undefined> {
    const [row] = await this.rows<CheckpointRow>(`SELECT ${CHECKPOINT_COLUMNS} FROM checkpoints WHERE run_id = $1 ORDER BY round DESC LIMIT 1`, [runId]);
    return row && checkpointOf(row);
  }

  async latestLedger(runId: string): Promise<(LedgerEntry & { round: number; attempt: number | null }) | undefined> {
    const [row] = await this.rows<LedgerRow>(`SELECT ${LEDGER_COLUMNS} FROM ledger WHERE run_id = $1 ORDER BY round DESC LIMIT 1`, [runId]);
    return row && ledgerOf(row);
  }

  async upsertClient(c: ClientUpsert, q: Queryable = this.pool): Promise<void> {
    const now = Date.now();
    await q.query(
      `INSERT INTO clients (id, token_hash, created_at, last_seen, name, mini_clients, shards) VALUES ($1, $2, $3, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET last_seen = $3, name = $4, mini_clients = $5, shards = $6`,
      [c.id, c.token_hash, now, c.name, c.mini_clients, JSON.stringify(c.shards)],
    );
  }

  async client(id: string): Promise<ClientIdentity | undefined> {
    const [row] = await this.rows<{ id: string; token_hash: string; mini_clients: number; shards: string }>(
      'SELECT id, token_hash, mini_clients, shards FROM clients WHERE id = $1',
      [id],
    );
    return row && { ...row, shards: JSON.parse(row.shards) };
  }

  async clientCount(): Promise<number> {
    const [r] = await this.rows<{ n: number }>('SELECT COUNT(*) AS n FROM clients');
    return r?.n ?? 0;
  }

  async touchClient(id: string): Promise<void> {
    await this.pool.query('UPDATE clients SET last_seen = $1 WHERE id = $2', [Date.now(), id]);
  }

  pruneClients(seenBefore: number, keep: Iterable<string>): Promise<string[]> {
    return this.tx(async (q) => {
      const ids = (
        await this.rows<{ id: string }>(
          `SELECT id FROM clients c WHERE c.last_seen < $1 AND NOT (c.id = ANY($2::text[]))
           AND NOT EXISTS (SELECT 1 FROM participants p WHERE p.client_id = c.id AND p.status = 'finished')`,
          [seenBefore, [...keep]],
          q,
        )
      ).map((r) => r.id);
      await q.query('DELETE FROM shard_assignments WHERE client_id = ANY($1::text[])', [ids]);
      await q.query('DELETE FROM clients WHERE id = ANY($1::text[])', [ids]);
      return ids;
    });
  }

  async addJoinCodes(hashes: readonly string[]): Promise<void> {
    await this.pool.query('INSERT INTO join_codes (code_hash, created_at) SELECT h, $2 FROM unnest($1::text[]) AS h', [[...hashes], Date.now()]);
  }

  async joinCode(hash: string): Promise<{ used_at: number | null; client_id: string | null } | undefined> {
    return (await this.rows<{ used_at: number | null; client_id: string | null }>('SELECT used_at, client_id FROM join_codes WHERE code_hash = $1', [hash]))[0];
  }

  async redeemJoinCode(hash: string, clientId: string): Promise<boolean> {
    const r = await this.pool.query('UPDATE join_codes SET used_at = $1, client_id = $2 WHERE code_hash = $3 AND used_at IS NULL', [
      Date.now(),
      clientId,
      hash,
    ]);
    return r.rowCount === 1;
  }

  shardAssignments(): Promise<{ shard: number; client_id: string; last_seen: number }[]> {
    return this.rows(
      'SELECT a.shard, a.client_id, COALESCE(c.last_seen, 0) AS last_seen FROM shard_assignments a LEFT JOIN clients c ON c.id = a.client_id ORDER BY a.shard',
    );
  }

  async shardsOf(clientId: string): Promise<number[]> {
    return (await this.rows<{ shard: number }>('SELECT shard FROM shard_assignments WHERE client_id = $1 ORDER BY slot', [clientId])).map((r) => r.shard);
  }

  upsertClientWithShards(c: ClientUpsert, shardCount: number): Promise<void> {
    return this.shardTx(c, shardCount).catch((e: { code?: string }) => {
      // 23505 unique_violation: another node's hello took one of these free shards in the meantime.
      if (e?.code === '23505') throw new ShardTakenError(`a shard of ${c.shards.join(', ')} was just given to another client`);
      throw e;
    });
  }

  private shardTx(c: ClientUpsert, shardCount: number): Promise<void> {
    return this.tx(async (q) => {
      await q.query('DELETE FROM shard_assignments WHERE client_id = $1', [c.id]);
      for (const s of c.shards) {
        const holders = await this.rows<{ shard: number; client_id: string }>(
          'DELETE FROM shard_assignments WHERE shard % $1 = $2 AND client_id <> $3 RETURNING shard, client_id',
          [shardCount, s % shardCount, c.id],
          q,
        );
        for (const h of holders) {
          const [row] = await this.rows<{ shards: string }>('SELECT shards FROM clients WHERE id = $1', [h.client_id], q);
          if (row) {
            const left = (JSON.parse(row.shards) as number[]).filter((x) => x !== h.shard);
            await q.query('UPDATE clients SET shards = $1 WHERE id = $2', [JSON.stringify(left), h.client_id]);
          }
        }
      }
      const now = Date.now();
      if (c.shards.length)
        await q.query(
          'INSERT INTO shard_assignments (shard, client_id, slot, assigned_at) SELECT s, $2, o - 1, $3 FROM unnest($1::int[]) WITH ORDINALITY AS u(s, o)',
          [c.shards, c.id, now],
        );
      await this.upsertClient(c, q);
    });
  }
}
