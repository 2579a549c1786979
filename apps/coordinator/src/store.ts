/**
 * Persistence in an embedded SQLite file (better-sqlite3): runs, rounds (every attempt), stage events,
 * participants, the privacy ledger, model checkpoints and client identities. Everything a restart needs to
 * resume from the last completed round.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import type { RunState } from '@hushfl/protocol';

export type { RunState };

export interface RunRow {
  id: string;
  name: string;
  config: string;
  state: RunState;
  created_at: number;
  finished_at: number | null;
  /** Last completed round (−1 before the first). */
  completed_round: number;
  dim: number;
  ddg: string;
  reason: string | null;
}

export interface RoundRow {
  run_id: string;
  round: number;
  attempt: number;
  state: 'running' | 'completed' | 'aborted';
  started_at: number;
  finished_at: number | null;
  contributions: number | null;
  accuracy: number | null;
  loss: number | null;
  epsilon: number | null;
  /** ε against the coordinator (no sampling amplification); equals epsilon without Poisson sampling. */
  epsilon_coordinator: number | null;
  /** The extra δ of Poisson selection's redraws, (1 + e^ε)·Σ p (poissonSelection.ts); 0 without. */
  delta_selection: number | null;
  error: string | null;
  durations: string;
  dropped: string;
  bytes_up: number;
  bytes_down: number;
  selected: number;
}

/**
 * The privacy ledger after a round: the cumulative RDP the run's ε is read from, and Σₜ pₜ of Poisson selection
 * (poissonSelection.ts; 0 without). The coordinator-side RDP needs no row: it is rebuilt from the rounds.
 */
export interface LedgerEntry {
  rdp: number[];
  epsilon: number;
  selectionShortfall: number;
}

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
`;

function f32Blob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function blobF32(b: Buffer): Float32Array {
  const copy = new Uint8Array(b.length);
  copy.set(b);
  return new Float32Array(copy.buffer);
}

export class Store {
  readonly db: Database.Database;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.addMissingColumns('rounds', { epsilon_coordinator: 'REAL', delta_selection: 'REAL' });
    this.addMissingColumns('ledger', { selection_shortfall: 'REAL NOT NULL DEFAULT 0' });
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
         epsilon = @epsilon, epsilon_coordinator = @epsilon_coordinator, delta_selection = @delta_selection, error = @error, durations = @durations, dropped = @dropped, bytes_up = @bytes_up, bytes_down = @bytes_down
         WHERE run_id = @run_id AND round = @round AND attempt = @attempt`,
      )
      .run({
        finished_at: Date.now(),
        contributions: null,
        accuracy: null,
        loss: null,
        epsilon: null,
        epsilon_coordinator: null,
        delta_selection: null,
        error: null,
        durations: '{}',
        dropped: '{}',
        bytes_up: 0,
        bytes_down: 0,
        ...r,
      });
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

  stageEvent(e: { run_id: string; round: number; attempt: number; stage: string; phase: string; detail?: unknown }): void {
    this.db
      .prepare('INSERT INTO stage_events (run_id, round, attempt, stage, phase, at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(e.run_id, e.round, e.attempt, e.stage, e.phase, Date.now(), e.detail === undefined ? null : JSON.stringify(e.detail));
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

  setParticipant(runId: string, round: number, attempt: number, clientId: string, status: 'finished' | 'dropped', stage: string | null): void {
    this.db
      .prepare('UPDATE participants SET status = ?, dropped_stage = ? WHERE run_id = ? AND round = ? AND attempt = ? AND client_id = ?')
      .run(status, stage, runId, round, attempt, clientId);
  }

  participants(
    runId: string,
    round: number,
  ): { client_id: string; attempt: number; secagg_id: number; contributions: number; status: string; dropped_stage: string | null }[] {
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
  commitRound(c: {
    round: Partial<RoundRow> & { run_id: string; round: number; attempt: number; state: 'completed' };
    ledger: LedgerEntry | null;
    weights: Float32Array;
    momentum: Float32Array | null;
  }): void {
    this.db.transaction(() => {
      this.finishRound(c.round);
      if (c.ledger) {
        this.db
          .prepare('INSERT OR REPLACE INTO ledger (run_id, round, rdp, epsilon, selection_shortfall) VALUES (?, ?, ?, ?, ?)')
          .run(c.round.run_id, c.round.round, JSON.stringify(c.ledger.rdp), c.ledger.epsilon, c.ledger.selectionShortfall);
      }
      this.db
        .prepare('INSERT OR REPLACE INTO checkpoints (run_id, round, weights, momentum, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(c.round.run_id, c.round.round, f32Blob(c.weights), c.momentum ? f32Blob(c.momentum) : null, Date.now());
      this.db.prepare('UPDATE runs SET completed_round = ? WHERE id = ?').run(c.round.round, c.round.run_id);
    })();
  }

  saveInitialCheckpoint(runId: string, weights: Float32Array): void {
    this.db
      .prepare('INSERT OR REPLACE INTO checkpoints (run_id, round, weights, momentum, created_at) VALUES (?, -1, ?, NULL, ?)')
      .run(runId, f32Blob(weights), Date.now());
  }

  latestCheckpoint(runId: string): { round: number; weights: Float32Array; momentum: Float32Array | null } | undefined {
    const row = this.db.prepare('SELECT round, weights, momentum FROM checkpoints WHERE run_id = ? ORDER BY round DESC LIMIT 1').get(runId) as
      | { round: number; weights: Buffer; momentum: Buffer | null }
      | undefined;
    return row && { round: row.round, weights: blobF32(row.weights), momentum: row.momentum ? blobF32(row.momentum) : null };
  }

  /** Cumulative RDP after the last completed round, or null when nothing was spent. */
  latestLedger(runId: string): (LedgerEntry & { round: number }) | undefined {
    const row = this.db.prepare('SELECT round, rdp, epsilon, selection_shortfall FROM ledger WHERE run_id = ? ORDER BY round DESC LIMIT 1').get(runId) as
      | { round: number; rdp: string; epsilon: number; selection_shortfall: number }
      | undefined;
    return row && { round: row.round, rdp: JSON.parse(row.rdp), epsilon: row.epsilon, selectionShortfall: row.selection_shortfall };
  }

  upsertClient(c: { id: string; token_hash: string; name: string | null; mini_clients: number; shards: number[] }): void {
    this.db
      .prepare(
        `INSERT INTO clients (id, token_hash, created_at, last_seen, name, mini_clients, shards) VALUES (@id, @token_hash, @now, @now, @name, @mini_clients, @shards)
         ON CONFLICT(id) DO UPDATE SET last_seen = @now, name = @name, mini_clients = @mini_clients, shards = @shards`,
      )
      .run({ ...c, shards: JSON.stringify(c.shards), now: Date.now() });
  }

  client(id: string): { id: string; token_hash: string; mini_clients: number; shards: number[] } | undefined {
    const row = this.db.prepare('SELECT id, token_hash, mini_clients, shards FROM clients WHERE id = ?').get(id) as
      | { id: string; token_hash: string; mini_clients: number; shards: string }
      | undefined;
    return row && { ...row, shards: JSON.parse(row.shards) };
  }

  clientCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM clients').get() as { n: number }).n;
  }
}
