/**
 * The run engine's persistence, carried out against the store (SQLite or Postgres, store.ts): each PersistOp as the store's calls
 * (an attempt's privacy charge with the stage row that precedes its unmask requests, in one transaction; a
 * completed round and its checkpoint in another), server_metrics.json on disk, and the reverse — a RunSetup
 * rebuilt from the store to resume an interrupted run, its ledger from the charges written ahead.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DdgPlan, type FederatedMetrics, type PersistOp, type RoundRecord, RunEngine, type RunSetup } from '@hushfl/engine';
import { dataSourceSchema, evaluationSchema, runConfigSchema, serverConfigSchema, type RunConfig, type Status } from '@hushfl/protocol';
import type { Logger } from './runManager.ts';
import type { RoundRow, RunRow, Store } from './store.ts';

export function metricsPath(metricsDir: string, runId: string): string {
  return join(metricsDir, runId, 'server_metrics.json');
}

/** A round's federated evaluation as its rounds columns (all null without it). */
function federatedColumns(f: FederatedMetrics | null | undefined) {
  return {
    federated_accuracy: f?.accuracy ?? null,
    federated_loss: f?.loss ?? null,
    federated_examples: f?.examples ?? null,
    federated_correct: f?.correct ?? null,
    federated_loss_sum: f?.lossSum ?? null,
    federated_train_accuracy: f?.trainAccuracy ?? null,
    federated_train_loss: f?.trainLoss ?? null,
    federated_train_examples: f?.trainExamples ?? null,
    federated_train_correct: f?.trainCorrect ?? null,
    federated_train_loss_sum: f?.trainLossSum ?? null,
  };
}

/** The columns back as the record's `federated` (null when the row has none: the totals are always set with it). */
function federatedOf(r: RoundRow): FederatedMetrics | null {
  if (r.federated_examples == null || r.federated_train_examples == null) return null;
  return {
    accuracy: r.federated_accuracy ?? null,
    loss: r.federated_loss ?? null,
    examples: r.federated_examples,
    correct: r.federated_correct ?? 0,
    lossSum: r.federated_loss_sum ?? 0,
    trainAccuracy: r.federated_train_accuracy ?? null,
    trainLoss: r.federated_train_loss ?? null,
    trainExamples: r.federated_train_examples,
    trainCorrect: r.federated_train_correct ?? 0,
    trainLossSum: r.federated_train_loss_sum ?? 0,
  };
}

function roundRow(runId: string, r: RoundRecord) {
  return {
    run_id: runId,
    round: r.round,
    attempt: r.attempt,
    state: r.status === 'completed' ? ('completed' as const) : ('aborted' as const),
    contributions: r.contributions,
    parties: r.parties ?? null,
    accuracy: r.accuracy,
    loss: r.loss,
    epsilon: r.epsilon,
    epsilon_coordinator: r.epsilonVsCoordinator,
    delta_selection: r.deltaSelection,
    clip: r.clip ?? null,
    clip_fraction: r.clipFraction ?? null,
    error: r.error,
    excused: r.excused ?? null,
    durations: JSON.stringify(r.durationsMs),
    dropped: JSON.stringify(r.droppedClients),
    bytes_up: r.bytesUp,
    bytes_down: r.bytesDown,
    ...federatedColumns(r.federated),
  };
}

export async function persistRunOp(store: Store, metricsDir: string, runId: string, p: PersistOp): Promise<void> {
  switch (p.op) {
    case 'round-started':
      await store.startRound({ run_id: runId, round: p.record.round, attempt: p.record.attempt, selected: p.record.selected });
      await store.addParticipants(
        p.participants.map((x) => ({
          run_id: runId,
          round: p.record.round,
          attempt: p.record.attempt,
          client_id: x.clientId,
          secagg_id: x.secaggId,
          contributions: x.contributions,
        })),
      );
      return;
    case 'stage': {
      const event = { run_id: runId, round: p.round, attempt: p.attempt, stage: p.stage, phase: p.phase, detail: p.detail };
      // Write-ahead: the charge and this stage row commit together, and before the engine's next commands
      // (the unmask requests) are carried out — RunManager executes a step's commands in order.
      if (p.charge) await store.stageEventWithCharge(event, p.charge.ledger);
      else await store.stageEvent(event);
      return;
    }
    case 'round-finished': {
      const row = roundRow(runId, p.record);
      if (p.commit && row.state === 'completed')
        await store.commitRound({
          round: { ...row, state: 'completed' },
          ledger: p.commit.ledger,
          weights: p.commit.weights,
          optimizerState: p.commit.optimizerState,
          clip: p.commit.clip,
        });
      else await store.finishRound(row);
      await store.setParticipants(runId, p.record.round, p.record.attempt, p.outcomes);
      return;
    }
    case 'round-evaluated':
      await store.setRoundEvaluation(runId, p.round, p.attempt, p.accuracy, p.loss);
      return;
    case 'party-excluded':
      await store.excludeParty({ run_id: runId, client_id: p.clientId, reason: p.reason, round: p.round, attempt: p.attempt });
      return;
    case 'run-state':
      await store.setRunState(runId, p.state, p.reason);
      return;
    case 'metrics': {
      // Temp file + rename: a reader (or a crash) never sees a half-written document.
      mkdirSync(join(metricsDir, runId), { recursive: true });
      const path = metricsPath(metricsDir, runId);
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(p.document, null, 2)}\n`);
      renameSync(tmp, path);
      return;
    }
  }
}

function roundRecord(r: RoundRow): RoundRecord {
  return {
    round: r.round,
    attempt: r.attempt,
    status: r.state,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    selected: r.selected,
    contributions: r.contributions,
    parties: r.parties ?? null,
    accuracy: r.accuracy,
    loss: r.loss,
    federated: federatedOf(r),
    epsilon: r.epsilon,
    epsilonVsCoordinator: r.epsilon_coordinator,
    clip: r.clip ?? null,
    clipFraction: r.clip_fraction ?? null,
    deltaSelection: r.delta_selection,
    error: r.error,
    excused: r.excused ?? null,
    durationsMs: JSON.parse(r.durations),
    droppedClients: JSON.parse(r.dropped),
    bytesUp: r.bytes_up,
    bytesDown: r.bytes_down,
  };
}

/**
 * A run's stored config as the current schema has it: parsed again, so keys added since the run was created get
 * their defaults (a run from before `data` trains on demo data). One that no longer parses (a bound tightened
 * since) keeps its stored values over those defaults.
 */
export function storedRunConfig(json: string): RunConfig {
  const raw = JSON.parse(json) as Record<string, unknown>;
  const parsed = runConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const server = { ...serverConfigSchema.parse({}), ...(raw.server as object | undefined) };
  return { data: dataSourceSchema.parse(undefined), evaluation: evaluationSchema.parse({}), ...raw, server } as RunConfig;
}

/**
 * A RunSetup for an interrupted run, from its last checkpoint and ledger entry (attempts still 'running' must
 * be aborted first). The ledger entry is the last charge: an attempt interrupted after its unmask requests
 * went out is in it.
 */
export async function loadRunSetup(store: Store, row: RunRow): Promise<RunSetup> {
  const ckpt = await store.latestCheckpoint(row.id);
  if (!ckpt) throw new Error(`run ${row.id} has no checkpoint`);
  const ledger = await store.latestLedger(row.id);
  return {
    run: { id: row.id, name: row.name, createdAt: row.created_at, dim: row.dim },
    config: storedRunConfig(row.config),
    plan: JSON.parse(row.ddg) as DdgPlan,
    weights: ckpt.weights,
    optimizerState: ckpt.optimizerState,
    ...(ckpt.clip !== null ? { clip: ckpt.clip } : {}),
    completedRound: row.completed_round,
    paused: row.state === 'paused',
    rounds: (await store.rounds(row.id)).map(roundRecord),
    excluded: (await store.excludedParties(row.id)).map((x) => ({ clientId: x.client_id, reason: x.reason })),
    ...(row.attempt_floor ? { attemptFloor: row.attempt_floor } : {}),
    ...(ledger
      ? {
          ledger: {
            rdp: ledger.rdp,
            epsilon: ledger.epsilon,
            selectionShortfall: ledger.selectionShortfall,
            ...(ledger.rdpCoordinator ? { rdpCoordinator: ledger.rdpCoordinator } : {}),
            ...(ledger.charges !== undefined ? { charges: ledger.charges } : {}),
            // Rows from before charges were counted hold one per completed round.
            rounds: ledger.charges ?? ledger.round + 1,
          },
        }
      : {}),
  };
}

/**
 * After a restart: the run left running or paused, as a RunSetup (its interrupted attempt marked aborted, to
 * be re-run); any other run left running is stopped. Null when there is none.
 */
export async function takeInterruptedRun(store: Store, log: Pick<Logger, 'info' | 'warn'>): Promise<RunSetup | null> {
  let setup: RunSetup | null = null;
  for (const row of await store.activeRuns()) {
    if (setup) {
      await store.setRunState(row.id, 'stopped', 'another run was resumed first');
      continue;
    }
    const aborted = await store.abortInterrupted(row.id, 'coordinator restarted during the round; it is re-run');
    if (aborted) log.warn({ runId: row.id, aborted }, 'aborted the round interrupted by the restart; it will be re-run');
    setup = await loadRunSetup(store, row);
    log.info({ runId: row.id, fromRound: row.completed_round + 1 }, 'run resumed');
  }
  return setup;
}

/**
 * An operator resumes a failed or stopped run: from its last committed round, with the privacy ledger as
 * written, and the next round's earlier aborted attempts forgiven (store.reopenRun). Throws, saying why, for
 * a run that is not failed or stopped, or whose rounds or privacy budget are spent (RunEngine.resumeRefusal).
 */
export async function reopenRun(store: Store, runId: string): Promise<RunSetup> {
  const row = await store.run(runId);
  if (!row) throw new Error(`run ${runId} not found`);
  if (row.state !== 'failed' && row.state !== 'stopped') throw new Error(`run ${runId} is ${row.state}: only a failed or stopped run can be resumed`);
  const why = RunEngine.resumeRefusal(await loadRunSetup(store, row));
  if (why) throw new Error(`run ${runId} cannot be resumed: ${why}`);
  await store.abortInterrupted(runId, 'the run ended during the round');
  const floor = await store.lastAttempt(runId, row.completed_round + 1);
  await store.reopenRun(runId, floor);
  return loadRunSetup(store, (await store.run(runId))!);
}

/** Between runs: the most recent run's final state, round and ε (a run left running is reported stopped). */
export async function lastRunStatus(store: Store, clientsConnected: number): Promise<Status> {
  const last = (await store.runs())[0];
  if (!last) return { runId: null, state: 'idle', round: 0, rounds: 0, epsilon: null, epsilonBudget: null, delta: null, clientsConnected };
  const plan = JSON.parse(last.ddg) as DdgPlan;
  return {
    runId: last.id,
    state: last.state === 'running' || last.state === 'paused' ? 'stopped' : last.state,
    round: last.completed_round + 1,
    rounds: storedRunConfig(last.config).rounds,
    epsilon: (await store.latestLedger(last.id))?.epsilon ?? null,
    epsilonBudget: plan.epsilonBudget,
    delta: plan.delta,
    clientsConnected,
    ...(last.reason ? { message: last.reason } : {}),
  };
}
