/**
 * The store in an embedded SQLite file (better-sqlite3): the default on one machine. Its calls answer
 * synchronously; asyncStore (store.ts) puts them behind the Store contract.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
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
  type ParticipantRow,
  type RoundCommit,
  ROUND_DEFAULTS,
  type RoundRow,
  type RunRow,
  type StageEventInput,
  type ParticipantOutcome,
  type SyncStore,
} from './store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL,
  created_at INTEGER NOT NULL, finished_at INTEGER, completed_round INTEGER NOT NULL DEFAULT -1,
  dim INTEGER NOT NULL, ddg TEXT NOT NULL, reason TEXT
);
CREATE TABLE IF NOT EXISTS rounds (
  run_id TEXT NOT NULL, round INTEGER NOT NULL, attempt INTEGER NOT NULL, state TEXT NOT NULL,
  started_at INTEGER NOT NULL, finished_at INTEGER, contributions INTEGER, accuracy REAL, loss REAL,
  epsilon REAL, error TEXT, durations TEXT NOT NULL DEFAULT '{}', dropped TEXT NOT NULL DEFAULT '{}',
  bytes_up INTEGER NOT NULL DEFAULT 0, bytes_down INTEGER NOT NULL DEFAULT 0, selected INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, round, attempt)
);
CREATE TABLE IF NOT EXISTS stage_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, round INTEGER NOT NULL, attempt INTEGER NOT NULL,
  stage TEXT NOT NULL, phase TEXT NOT NULL, at INTEGER NOT NULL, detail TEXT
);
CREATE TABLE IF NOT EXISTS participants (
  run_id TEXT NOT NULL, round INTEGER NOT NULL, attempt INTEGER NOT NULL, client_id TEXT NOT NULL,
  secagg_id INTEGER NOT NULL, contributions INTEGER NOT NULL, status TEXT NOT NULL, dropped_stage TEXT,
  PRIMARY KEY (run_id, round, attempt, client_id)
);
CREATE INDEX IF NOT EXISTS participants_by_client ON participants (client_id, status);
CREATE TABLE IF NOT EXISTS ledger (
  run_id TEXT NOT NULL, round INTEGER NOT NULL, rdp TEXT NOT NULL, epsilon REAL NOT NULL,
  PRIMARY KEY (run_id, round)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  run_id TEXT NOT NULL, round INTEGER NOT NULL, weights BLOB NOT NULL, momentum BLOB, created_at INTEGER NOT NULL,
  PRIMARY KEY (run_id, round)
);
CREATE TABLE IF NOT EXISTS clients (
  id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL,
  name TEXT, mini_clients INTEGER NOT NULL DEFAULT 1, shards TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS join_codes (
  code_hash TEXT PRIMARY KEY, created_at INTEGER NOT NULL, used_at INTEGER, client_id TEXT
);
`;

/**
 * How long a write waits on a lock held elsewhere (another process, a backup) before it fails with SQLITE_BUSY.
 * better-sqlite3 waits synchronously, so this is also how long one locked write can hold up the event loop:
 * short, since the run engine aborts the attempt and retries rather than waiting for the lock.
 */
export const STORE_BUSY_TIMEOUT_MS = 2_000;

function optionalBlob(v: Float32Array | null): Buffer | null {
  return v ? f32Bytes(v) : null;
}

export class SqliteStore implements SyncStore {
  readonly kind = 'sqlite' as const;
  readonly db: Database.Database;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    // A writer waits this long for a lock before SQLITE_BUSY; the run engine then aborts the attempt, logged.
    this.db = new Database(path, { timeout: STORE_BUSY_TIMEOUT_MS });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.addMissingColumns('rounds', { epsilon_coordinator: 'REAL', delta_selection: 'REAL' });
    this.addMissingColumns('ledger', { selection_shortfall: 'REAL NOT NULL DEFAULT 0', attempt: 'INTEGER', rdp_coordinator: 'TEXT', charges: 'INTEGER' });
    this.addMissingColumns('rounds', { parties: 'INTEGER', excused: 'TEXT' });
    this.addMissingColumns('runs', { attempt_floor: 'INTEGER' });
    this.addMissingColumns('rounds', Object.fromEntries(FEDERATED_COLUMNS.map((c) => [c, 'REAL'])));
    // `momentum` holds the server optimizer's first moment m, `second_moment` its v (fedOpt.ts).
    this.addMissingColumns('checkpoints', { second_moment: 'BLOB', clip: 'REAL' });
    this.addMissingColumns('rounds', { clip: 'REAL', clip_fraction: 'REAL' });
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS excluded_parties (run_id TEXT NOT NULL, client_id TEXT NOT NULL, reason TEXT NOT NULL, round INTEGER NOT NULL, attempt INTEGER NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (run_id, client_id))',
    );
    this.openShardAssignments();
  }

  /** Columns added after a store was first created: a data directory from an older version gains them. */
  private addMissingColumns(table: string, columns: Record<string, string>): void {
    const have = new Set((this.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
    for (const [name, type] of Object.entries(columns)) if (!have.has(name)) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
  }

  close(): void {
    this.db.close();
  }

  createRun(r: Omit<RunRow, 'finished_at' | 'completed_round' | 'reason'>): void {
    this.db.prepare('INSERT INTO runs (id, name, config, state, created_at, dim, ddg) VALUES (@id, @name, @config, @state, @created_at, @dim, @ddg)').run(r);
  }

  run(id: string): RunRow | undefined {
    return this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
  }

  runs(): RunRow[] {
    return this.db.prepare('SELECT * FROM runs ORDER BY created_at DESC').all() as RunRow[];
  }

  activeRuns(): RunRow[] {
    return this.db.prepare("SELECT * FROM runs WHERE state IN ('running', 'paused') ORDER BY created_at").all() as RunRow[];
  }

  setRunState(id: string, state: RunState, reason: string | null = null): void {
    const finished = state === 'completed' || state === 'failed' || state === 'stopped' ? Date.now() : null;
    this.db.prepare('UPDATE runs SET state = ?, reason = ?, finished_at = ? WHERE id = ?').run(state, reason, finished, id);
  }

  startRound(r: { run_id: string; round: number; attempt: number; selected: number }): void {
    this.db
      .prepare(
        "INSERT OR REPLACE INTO rounds (run_id, round, attempt, state, started_at, selected) VALUES (@run_id, @round, @attempt, 'running', @now, @selected)",
      )
      .run({ ...r, now: Date.now() });
  }

  finishRound(r: Partial<RoundRow> & { run_id: string; round: number; attempt: number; state: 'completed' | 'aborted' }): void {
    this.db
      .prepare(
        `UPDATE rounds SET state = @state, finished_at = @finished_at, contributions = @contributions, accuracy = @accuracy, loss = @loss,
         epsilon = @epsilon, epsilon_coordinator = @epsilon_coordinator, delta_selection = @delta_selection, error = @error, durations = @durations, dropped = @dropped, bytes_up = @bytes_up, bytes_down = @bytes_down,
         parties = @parties, excused = @excused, clip = @clip, clip_fraction = @clip_fraction, ${FEDERATED_COLUMNS.map((c) => `${c} = @${c}`).join(', ')}
         WHERE run_id = @run_id AND round = @round AND attempt = @attempt`,
      )
      .run({ finished_at: Date.now(), ...ROUND_DEFAULTS, ...r });
  }

  /** A committed round's evaluation (it is committed before it is evaluated). */
  setRoundEvaluation(runId: string, round: number, attempt: number, accuracy: number | null, loss: number | null): void {
    this.db.prepare('UPDATE rounds SET accuracy = ?, loss = ? WHERE run_id = ? AND round = ? AND attempt = ?').run(accuracy, loss, runId, round, attempt);
  }

  /** A party excluded from the rest of a run for misbehaving (the first reason is kept). */
  excludeParty(e: { run_id: string; client_id: string; reason: string; round: number; attempt: number }): void {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO excluded_parties (run_id, client_id, reason, round, attempt, at) VALUES (@run_id, @client_id, @reason, @round, @attempt, @at)',
      )
      .run({ ...e, at: Date.now() });
  }

  excludedParties(runId: string): ExcludedParty[] {
    return this.db.prepare('SELECT client_id, reason, round, attempt, at FROM excluded_parties WHERE run_id = ? ORDER BY at').all(runId) as ExcludedParty[];
  }

  /** An operator resumes a failed or stopped run: running again, earlier attempts of its next round forgiven. */
  reopenRun(id: string, attemptFloor: number): void {
    this.db.prepare("UPDATE runs SET state = 'running', reason = NULL, finished_at = NULL, attempt_floor = ? WHERE id = ?").run(attemptFloor, id);
  }

  /** Marks attempts left running by a crash as aborted; returns how many. */
  abortInterrupted(runId: string, reason: string): number {
    return this.db
      .prepare("UPDATE rounds SET state = 'aborted', error = ?, finished_at = ? WHERE run_id = ? AND state = 'running'")
      .run(reason, Date.now(), runId).changes;
  }

  rounds(runId: string): RoundRow[] {
    return this.db.prepare('SELECT * FROM rounds WHERE run_id = ? ORDER BY round, attempt').all(runId) as RoundRow[];
  }

  lastAttempt(runId: string, round: number): number {
    const r = this.db.prepare('SELECT MAX(attempt) AS a FROM rounds WHERE run_id = ? AND round = ?').get(runId, round) as { a: number | null };
    return r.a ?? 0;
  }

  stageEvent(e: StageEventInput): void {
    this.db
      .prepare('INSERT INTO stage_events (run_id, round, attempt, stage, phase, at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(e.run_id, e.round, e.attempt, e.stage, e.phase, Date.now(), e.detail === undefined ? null : JSON.stringify(e.detail));
  }

  /**
   * The stage row after which the sum is computable (the ConsistencyCheck's close, ahead of the unmask
   * requests) and the attempt's privacy charge, in one transaction: the ledger is written before any request
   * goes out, and a crash leaves both or neither. It is synced to disk at its commit (synchronous = FULL for
   * this transaction; the store's NORMAL could lose a last commit to a power failure, not to a process crash).
   */
  stageEventWithCharge(e: StageEventInput, ledger: LedgerEntry | null): void {
    this.db.pragma('synchronous = FULL');
    try {
      this.db.transaction(() => {
        this.stageEvent(e);
        if (ledger) this.writeLedger(e.run_id, e.round, e.attempt, ledger);
      })();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  /** The cumulative ledger after a charge; a later attempt of the same round replaces it (it holds it). */
  private writeLedger(runId: string, round: number, attempt: number | null, l: LedgerEntry): void {
    this.db
      .prepare(
        'INSERT OR REPLACE INTO ledger (run_id, round, attempt, rdp, epsilon, selection_shortfall, rdp_coordinator, charges) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        runId,
        round,
        attempt,
        JSON.stringify(l.rdp),
        l.epsilon,
        l.selectionShortfall,
        l.rdpCoordinator ? JSON.stringify(l.rdpCoordinator) : null,
        l.charges ?? null,
      );
  }

  stageEvents(runId: string, round: number): { stage: string; phase: string; at: number; attempt: number; detail: string | null }[] {
    return this.db.prepare('SELECT stage, phase, at, attempt, detail FROM stage_events WHERE run_id = ? AND round = ? ORDER BY id').all(runId, round) as never;
  }

  addParticipants(rows: { run_id: string; round: number; attempt: number; client_id: string; secagg_id: number; contributions: number }[]): void {
    const stmt = this.db.prepare(
      "INSERT OR REPLACE INTO participants (run_id, round, attempt, client_id, secagg_id, contributions, status) VALUES (@run_id, @round, @attempt, @client_id, @secagg_id, @contributions, 'selected')",
    );
    this.db.transaction(() => {
      for (const r of rows) stmt.run(r);
    })();
  }

  setParticipants(runId: string, round: number, attempt: number, outcomes: readonly ParticipantOutcome[]): void {
    const stmt = this.db.prepare('UPDATE participants SET status = ?, dropped_stage = ? WHERE run_id = ? AND round = ? AND attempt = ? AND client_id = ?');
    this.db.transaction(() => {
      for (const o of outcomes) stmt.run(o.status, o.stage, runId, round, attempt, o.clientId);
    })();
  }

  participants(runId: string, round: number): ParticipantRow[] {
    return this.db
      .prepare(
        'SELECT client_id, attempt, secagg_id, contributions, status, dropped_stage FROM participants WHERE run_id = ? AND round = ? ORDER BY attempt, secagg_id',
      )
      .all(runId, round) as never;
  }

  /**
   * Commits a completed round atomically: the round row, the ledger entry, the checkpoint and the run's
   * progress, so a crash leaves either all of it or none.
   */
  commitRound(c: RoundCommit): void {
    this.db.transaction(() => {
      this.finishRound(c.round);
      // Null when the attempt was charged at its unmask requests (stageEventWithCharge): never written twice.
      if (c.ledger) this.writeLedger(c.round.run_id, c.round.round, c.round.attempt, c.ledger);
      this.db
        .prepare('INSERT OR REPLACE INTO checkpoints (run_id, round, weights, momentum, second_moment, clip, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(c.round.run_id, c.round.round, f32Bytes(c.weights), optionalBlob(c.optimizerState.m), optionalBlob(c.optimizerState.v), c.clip, Date.now());
      // An operator's forgiveness of aborted attempts (reopenRun) is for the round it was given at.
      this.db.prepare('UPDATE runs SET completed_round = ?, attempt_floor = NULL WHERE id = ?').run(c.round.round, c.round.run_id);
    })();
  }

  saveInitialCheckpoint(runId: string, weights: Float32Array): void {
    this.db
      .prepare('INSERT OR REPLACE INTO checkpoints (run_id, round, weights, momentum, created_at) VALUES (?, -1, ?, NULL, ?)')
      .run(runId, f32Bytes(weights), Date.now());
  }

  latestCheckpoint(runId: string): Checkpoint | undefined {
    const row = this.db.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM checkpoints WHERE run_id = ? ORDER BY round DESC LIMIT 1`).get(runId) as
      | CheckpointRow
      | undefined;
    return row && checkpointOf(row);
  }

  /** The cumulative ledger after the last charged attempt, or undefined when nothing was spent. */
  latestLedger(runId: string): (LedgerEntry & { round: number; attempt: number | null }) | undefined {
    const row = this.db.prepare(`SELECT ${LEDGER_COLUMNS} FROM ledger WHERE run_id = ? ORDER BY round DESC LIMIT 1`).get(runId) as LedgerRow | undefined;
    return row && ledgerOf(row);
  }

  upsertClient(c: ClientUpsert): void {
    this.db
      .prepare(
        `INSERT INTO clients (id, token_hash, created_at, last_seen, name, mini_clients, shards) VALUES (@id, @token_hash, @now, @now, @name, @mini_clients, @shards)
         ON CONFLICT(id) DO UPDATE SET last_seen = @now, name = @name, mini_clients = @mini_clients, shards = @shards`,
      )
      .run({ ...c, shards: JSON.stringify(c.shards), now: Date.now() });
  }

  client(id: string): ClientIdentity | undefined {
    const row = this.db.prepare('SELECT id, token_hash, mini_clients, shards FROM clients WHERE id = ?').get(id) as
      | { id: string; token_hash: string; mini_clients: number; shards: string }
      | undefined;
    return row && { ...row, shards: JSON.parse(row.shards) };
  }

  clientCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM clients').get() as { n: number }).n;
  }

  /** A client left: its last_seen is now (pruning counts retention from the last time it was connected). */
  touchClient(id: string): void {
    this.db.prepare('UPDATE clients SET last_seen = ? WHERE id = ?').run(Date.now(), id);
  }

  /**
   * Deletes the identities last seen before `seenBefore` that never finished a round (no participants row with
   * status 'finished'), with their shard assignments, except those in `keep` (connected now). Returns their ids.
   */
  pruneClients(seenBefore: number, keep: Iterable<string>): string[] {
    return this.db.transaction(() => {
      const ids = (
        this.db
          .prepare(
            `SELECT id FROM clients c WHERE c.last_seen < ? AND c.id NOT IN (SELECT value FROM json_each(?))
             AND NOT EXISTS (SELECT 1 FROM participants p WHERE p.client_id = c.id AND p.status = 'finished')`,
          )
          .all(seenBefore, JSON.stringify([...keep])) as { id: string }[]
      ).map((r) => r.id);
      const list = JSON.stringify(ids);
      this.db.prepare('DELETE FROM shard_assignments WHERE client_id IN (SELECT value FROM json_each(?))').run(list);
      this.db.prepare('DELETE FROM clients WHERE id IN (SELECT value FROM json_each(?))').run(list);
      return ids;
    })();
  }

  // ------------------------------------------------------------- join codes
  // Single-use codes for `access: { enrollment: true }`, stored hashed like session tokens (invites.ts).

  addJoinCodes(hashes: readonly string[]): void {
    const insert = this.db.prepare('INSERT INTO join_codes (code_hash, created_at) VALUES (?, ?)');
    const now = Date.now();
    this.db.transaction(() => {
      for (const h of hashes) insert.run(h, now);
    })();
  }

  joinCode(hash: string): { used_at: number | null; client_id: string | null } | undefined {
    return this.db.prepare('SELECT used_at, client_id FROM join_codes WHERE code_hash = ?').get(hash) as never;
  }

  /** Marks an unused code used by `clientId`; false when it is unknown or already used. */
  redeemJoinCode(hash: string, clientId: string): boolean {
    return (
      this.db.prepare('UPDATE join_codes SET used_at = ?, client_id = ? WHERE code_hash = ? AND used_at IS NULL').run(Date.now(), clientId, hash).changes === 1
    );
  }

  // ------------------------------------------------------------- shard assignments
  // Which client identity holds which data shard (one holder per shard: the primary key), so a restart never
  // hands one shard to two clients. clients.shards mirrors it (the shard download checks that column).

  private openShardAssignments(): void {
    const fresh = !(this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'shard_assignments'").get() as unknown);
    this.db.exec(`CREATE TABLE IF NOT EXISTS shard_assignments (
      shard INTEGER PRIMARY KEY, client_id TEXT NOT NULL, slot INTEGER NOT NULL, assigned_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS shard_assignments_by_client ON shard_assignments (client_id, slot);`);
    if (!fresh) return;
    // A data directory from before the table: its clients' shards, the most recently seen holder first
    // (an older duplicate keeps nothing and is given new shards at its next hello).
    const insert = this.db.prepare('INSERT OR IGNORE INTO shard_assignments (shard, client_id, slot, assigned_at) VALUES (?, ?, ?, ?)');
    type Row = { id: string; shards: string; last_seen: number };
    const rows = this.db.prepare('SELECT id, shards, last_seen FROM clients ORDER BY last_seen DESC').all() as Row[];
    this.db.transaction(() => {
      for (const r of rows) {
        const shards = JSON.parse(r.shards) as number[];
        for (let slot = 0; slot < shards.length; slot++) insert.run(shards[slot], r.id, slot, r.last_seen);
      }
    })();
  }

  /** Every held shard, with its holder and when the holder was last seen. */
  shardAssignments(): { shard: number; client_id: string; last_seen: number }[] {
    return this.db
      .prepare(
        'SELECT a.shard, a.client_id, COALESCE(c.last_seen, 0) AS last_seen FROM shard_assignments a LEFT JOIN clients c ON c.id = a.client_id ORDER BY a.shard',
      )
      .all() as never;
  }

  /** The shards a client identity holds, by mini-client slot. */
  shardsOf(clientId: string): number[] {
    return (this.db.prepare('SELECT shard FROM shard_assignments WHERE client_id = ? ORDER BY slot').all(clientId) as { shard: number }[]).map((r) => r.shard);
  }

  /**
   * Records a client and its shards in one transaction: it gives up the shards it held, and any other holder
   * of one of its new shards (as a data index: shard mod `shardCount`, the task's shard count) loses that one
   * (the gateway takes only free shards, or those of identities that are not connected).
   */
  upsertClientWithShards(c: ClientUpsert, shardCount: number): void {
    const holders = this.db.prepare('SELECT shard, client_id FROM shard_assignments WHERE shard % ? = ? AND client_id != ?');
    const remove = this.db.prepare('DELETE FROM shard_assignments WHERE shard = ?');
    const owner = this.db.prepare('SELECT shards FROM clients WHERE id = ?');
    const setShards = this.db.prepare('UPDATE clients SET shards = ? WHERE id = ?');
    const insert = this.db.prepare('INSERT INTO shard_assignments (shard, client_id, slot, assigned_at) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM shard_assignments WHERE client_id = ?').run(c.id);
      for (const s of c.shards) {
        for (const h of holders.all(shardCount, s % shardCount, c.id) as { shard: number; client_id: string }[]) {
          remove.run(h.shard);
          const row = owner.get(h.client_id) as { shards: string } | undefined;
          if (row) setShards.run(JSON.stringify((JSON.parse(row.shards) as number[]).filter((x) => x !== h.shard)), h.client_id);
        }
      }
      const now = Date.now();
      for (let slot = 0; slot < c.shards.length; slot++) insert.run(c.shards[slot], c.id, slot, now);
      this.upsertClient(c);
    })();
  }
}
