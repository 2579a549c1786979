/**
 * The coordinator's persistence contract (issue 17 §1): runs, rounds (every attempt), stage events,
 * participants, the privacy ledger, model checkpoints and client identities — everything a restart, or another
 * node taking over a run, needs to resume from the last completed round. Two implementations: an embedded
 * SQLite file (sqliteStore.ts, one machine) and Postgres (postgresStore.ts, a cluster); one test suite
 * (storeContract.test.ts) runs against both.
 */
import type { FedOptState } from '@hushfl/engine';
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
  /** Attempts of the next round numbered up to this do not count toward maxAttempts (set by an operator's resume of a failed run). */
  attempt_floor?: number | null;
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
  /** Parties whose inputs the sum holds (the accountant's n): released and charged attempts; null otherwise or in older rows. */
  parties: number | null;
  /** Why an aborted attempt does not count toward maxAttempts (RoundRecord.excused); null when it counts. */
  excused?: string | null;
  /**
   * Federated evaluation of a released attempt (RoundRecord.federated, issue 14 §5): ratios and the raw noisy
   * totals over its parties; null without it, for other attempts and in older rows.
   */
  federated_accuracy?: number | null;
  federated_loss?: number | null;
  federated_examples?: number | null;
  federated_correct?: number | null;
  federated_loss_sum?: number | null;
  federated_train_accuracy?: number | null;
  federated_train_loss?: number | null;
  federated_train_examples?: number | null;
  federated_train_correct?: number | null;
  federated_train_loss_sum?: number | null;
  /** Adaptive clipping: the attempt's clip C_t and its noisy within-clip share b̄_t (null with a fixed clip). */
  clip?: number | null;
  clip_fraction?: number | null;
}

/** The rounds columns of federated evaluation (RoundRow.federated_*). */
export const FEDERATED_COLUMNS = [
  'federated_accuracy',
  'federated_loss',
  'federated_examples',
  'federated_correct',
  'federated_loss_sum',
  'federated_train_accuracy',
  'federated_train_loss',
  'federated_train_examples',
  'federated_train_correct',
  'federated_train_loss_sum',
] as const;

/**
 * The privacy ledger after a charged round attempt — written ahead, when the attempt's unmask requests go out,
 * in the transaction of the stage row that records them: the cumulative RDP the run's ε is read from, the
 * cumulative RDP against the coordinator, how many attempts it holds, and Σₜ pₜ of Poisson selection
 * (poissonSelection.ts; 0 without). Rows written before the coordinator side was kept lack it (rebuilt then).
 */
export interface LedgerEntry {
  rdp: number[];
  epsilon: number;
  selectionShortfall: number;
  rdpCoordinator?: number[];
  /** Charged attempts the entry holds. */
  charges?: number;
}

/** A checkpoints row as both engines return it (BLOB / BYTEA as Buffers). */
export interface CheckpointRow {
  round: number;
  weights: Buffer;
  momentum: Buffer | null;
  second_moment: Buffer | null;
  clip: number | null;
}

/** A ledger row as both engines return it. */
export interface LedgerRow {
  round: number;
  attempt: number | null;
  rdp: string;
  epsilon: number;
  selection_shortfall: number;
  rdp_coordinator: string | null;
  charges: number | null;
}

/** The columns the two latest* reads select. */
export const CHECKPOINT_COLUMNS = 'round, weights, momentum, second_moment, clip';
export const LEDGER_COLUMNS = 'round, attempt, rdp, epsilon, selection_shortfall, rdp_coordinator, charges';

/** A float32 vector as the bytes stored (little-endian on the machines we run on). */
export function f32Bytes(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Stored bytes back as a float32 vector in a buffer of its own (aligned, independent of the driver's). */
export function bytesF32(b: Buffer): Float32Array {
  const copy = new Uint8Array(b.length);
  copy.set(b);
  return new Float32Array(copy.buffer);
}

export function checkpointOf(row: CheckpointRow): Checkpoint {
  return {
    round: row.round,
    weights: bytesF32(row.weights),
    optimizerState: { m: row.momentum ? bytesF32(row.momentum) : null, v: row.second_moment ? bytesF32(row.second_moment) : null },
    clip: row.clip,
  };
}

export function ledgerOf(row: LedgerRow): LedgerEntry & { round: number; attempt: number | null } {
  return {
    round: row.round,
    attempt: row.attempt,
    rdp: JSON.parse(row.rdp),
    epsilon: row.epsilon,
    selectionShortfall: row.selection_shortfall,
    ...(row.rdp_coordinator ? { rdpCoordinator: JSON.parse(row.rdp_coordinator) as number[] } : {}),
    ...(row.charges !== null ? { charges: row.charges } : {}),
  };
}

/** What finishRound writes for a column the caller leaves out. */
export const ROUND_DEFAULTS = {
  contributions: null,
  parties: null,
  accuracy: null,
  loss: null,
  epsilon: null,
  epsilon_coordinator: null,
  delta_selection: null,
  clip: null,
  clip_fraction: null,
  error: null,
  durations: '{}',
  dropped: '{}',
  bytes_up: 0,
  bytes_down: 0,
  excused: null,
  ...Object.fromEntries(FEDERATED_COLUMNS.map((c) => [c, null])),
} as const;

/** upsertClientWithShards lost a race: another node gave one of the shards to another identity first. */
export class ShardTakenError extends Error {}

/**
 * A run write from a node that no longer leads: a newer leader took the fence (takeFence) since this node
 * did. Nothing was written. A leader whose event loop stalled past its lease gets this instead of writing over
 * the run its successor resumed.
 */
export class FencedError extends Error {}

/** A stage row (stage_events). */
export interface StageEventInput {
  run_id: string;
  round: number;
  attempt: number;
  stage: string;
  phase: string;
  detail?: unknown;
}

export interface ParticipantRow {
  client_id: string;
  attempt: number;
  secagg_id: number;
  contributions: number;
  status: string;
  dropped_stage: string | null;
}

export interface ClientIdentity {
  id: string;
  token_hash: string;
  mini_clients: number;
  shards: number[];
}

export interface ClientUpsert extends ClientIdentity {
  name: string | null;
}

export interface ExcludedParty {
  client_id: string;
  reason: string;
  round: number;
  attempt: number;
  at: number;
}

export interface Checkpoint {
  round: number;
  weights: Float32Array;
  optimizerState: FedOptState;
  clip: number | null;
}

export interface RoundCommit {
  round: Partial<RoundRow> & { run_id: string; round: number; attempt: number; state: 'completed' };
  ledger: LedgerEntry | null;
  weights: Float32Array;
  optimizerState: FedOptState;
  /** Adaptive clipping's C for the next round (null with a fixed clip). */
  clip: number | null;
}

/** A party's outcome of an attempt: it finished, or dropped at `stage`. */
export interface ParticipantOutcome {
  readonly clientId: string;
  readonly status: 'finished' | 'dropped';
  readonly stage: string | null;
}

/**
 * The persistence contract, asynchronous (Postgres answers over a socket). Writes that must be atomic are one
 * call each (stageEventWithCharge, commitRound, upsertClientWithShards, pruneClients); each implementation
 * documents how it keeps them so.
 */
export interface Store {
  /** Which engine, for logs and the operator API: 'sqlite' or 'postgres'. */
  readonly kind: 'sqlite' | 'postgres';
  close(): Promise<void>;
  createRun(r: Omit<RunRow, 'finished_at' | 'completed_round' | 'reason'>): Promise<void>;
  run(id: string): Promise<RunRow | undefined>;
  /** Newest first. */
  runs(): Promise<RunRow[]>;
  /** Running or paused, oldest first. */
  activeRuns(): Promise<RunRow[]>;
  setRunState(id: string, state: RunState, reason?: string | null): Promise<void>;
  startRound(r: { run_id: string; round: number; attempt: number; selected: number }): Promise<void>;
  finishRound(r: Partial<RoundRow> & { run_id: string; round: number; attempt: number; state: 'completed' | 'aborted' }): Promise<void>;
  /** A committed round's evaluation (it is committed before it is evaluated). */
  setRoundEvaluation(runId: string, round: number, attempt: number, accuracy: number | null, loss: number | null): Promise<void>;
  /** A party excluded from the rest of a run for misbehaving (the first reason is kept). */
  excludeParty(e: { run_id: string; client_id: string; reason: string; round: number; attempt: number }): Promise<void>;
  excludedParties(runId: string): Promise<ExcludedParty[]>;
  /** An operator resumes a failed or stopped run: running again, earlier attempts of its next round forgiven. */
  reopenRun(id: string, attemptFloor: number): Promise<void>;
  /** Marks attempts left running by a crash as aborted; returns how many. */
  abortInterrupted(runId: string, reason: string): Promise<number>;
  rounds(runId: string): Promise<RoundRow[]>;
  lastAttempt(runId: string, round: number): Promise<number>;
  stageEvent(e: StageEventInput): Promise<void>;
  /**
   * The stage row after which the sum is computable and the attempt's privacy charge, atomically and durably
   * (the write-ahead rule): resolved only once both are on disk.
   */
  stageEventWithCharge(e: StageEventInput, ledger: LedgerEntry | null): Promise<void>;
  stageEvents(runId: string, round: number): Promise<{ stage: string; phase: string; at: number; attempt: number; detail: string | null }[]>;
  addParticipants(rows: { run_id: string; round: number; attempt: number; client_id: string; secagg_id: number; contributions: number }[]): Promise<void>;
  /** Every party's outcome of one attempt in one write (a round of 1 000 parties is one statement on Postgres). */
  setParticipants(runId: string, round: number, attempt: number, outcomes: readonly ParticipantOutcome[]): Promise<void>;
  participants(runId: string, round: number): Promise<ParticipantRow[]>;
  /** A completed round atomically: its row, the ledger entry, the checkpoint and the run's progress. */
  commitRound(c: RoundCommit): Promise<void>;
  saveInitialCheckpoint(runId: string, weights: Float32Array): Promise<void>;
  latestCheckpoint(runId: string): Promise<Checkpoint | undefined>;
  /** The cumulative ledger after the last charged attempt, or undefined when nothing was spent. */
  latestLedger(runId: string): Promise<(LedgerEntry & { round: number; attempt: number | null }) | undefined>;
  upsertClient(c: ClientUpsert): Promise<void>;
  client(id: string): Promise<ClientIdentity | undefined>;
  clientCount(): Promise<number>;
  /** A client left: its last_seen is now (pruning counts retention from the last time it was connected). */
  touchClient(id: string): Promise<void>;
  /**
   * Deletes the identities last seen before `seenBefore` that never finished a round, with their shard
   * assignments, except those in `keep` (connected now). Returns their ids.
   */
  pruneClients(seenBefore: number, keep: Iterable<string>): Promise<string[]>;
  addJoinCodes(hashes: readonly string[]): Promise<void>;
  joinCode(hash: string): Promise<{ used_at: number | null; client_id: string | null } | undefined>;
  /** Marks an unused code used by `clientId`; false when it is unknown or already used. */
  redeemJoinCode(hash: string, clientId: string): Promise<boolean>;
  /** Every held shard, with its holder and when the holder was last seen. */
  shardAssignments(): Promise<{ shard: number; client_id: string; last_seen: number }[]>;
  /** The shards a client identity holds, by mini-client slot. */
  shardsOf(clientId: string): Promise<number[]>;
  /**
   * A client and its shards in one transaction: it gives up the shards it held, and any other holder of one
   * of its new shards (as a data index: shard mod `shardCount`) loses that one.
   */
  upsertClientWithShards(c: ClientUpsert, shardCount: number): Promise<void>;
  /**
   * A shared store (several nodes, one leader at a time): this node now leads. Returns a fencing token
   * greater than every earlier one; from here every run write (runs, rounds, stages, participants, ledger,
   * checkpoints) of this store checks in the same transaction that no node has taken a newer token, or fails
   * with FencedError. Absent on a store only one process uses (SQLite).
   */
  takeFence?(): Promise<number>;
}

/** The contract with every method answering at once: SQLite's, which better-sqlite3 runs synchronously. */
export type SyncStore = { readonly [K in keyof Store]: Store[K] extends (...a: infer A) => Promise<infer R> ? (...a: A) => R : Store[K] };

/** A synchronous store behind the asynchronous contract; a throw becomes a rejection. */
export function asyncStore(s: SyncStore): Store {
  return new Proxy(s, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => (v as (...a: unknown[]) => unknown).apply(target, args);
    },
  }) as unknown as Store;
}
