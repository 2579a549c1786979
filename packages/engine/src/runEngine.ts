/**
 * One federated run as a pure engine, one level above the RoundEngine: events in (a client became ready or
 * left, a SecAgg message arrived, a named timer fired, the evaluation of a released model came back, an
 * operator command), commands out (send to a client, start or cancel a timer, persist, evaluate, release a
 * round, notify operators, end the run). It owns selection (fixed-size and Poisson with the shortfall rule),
 * the privacy-budget stop, the retry policy, FedAvg with server learning rate and momentum, both privacy
 * ledgers, the per-round records that server_metrics.json is built from, and pause / resume / stop.
 *
 * Time and randomness are injected, so a test drives a whole run deterministically; the coordinator, the
 * in-memory driver (inMemory.ts: tests, the utility experiment) and `hushfl simulate` run this same code.
 * A step either applies completely or not at all: each handler computes first and assigns at the end, and a
 * round whose engine fails is aborted with the error as its reason, never left hanging.
 *
 * Privacy is spent before the sum is computable: when a round's ConsistencyCheck closes, its charge (the
 * ledger after the round, at n = the parties whose inputs the sum holds) is a persist command ahead of the
 * first unmask request in the same command list, on the stage row that records the transition, and the
 * in-memory books take it at once. An attempt aborted after that point stays charged; its commit charges
 * nothing more. n_min, calibration and the accountant count parties, never the mini-clients they declare.
 */
import type { RandomWords } from '@hushfl/ddp';
import { EVENTS, pack, type RoundEnd, type RunConfig, type Status } from '@hushfl/protocol';
import { SECAGG_STAGE_TABLE, type SecAggClientMessage, type SecAggStage } from '@hushfl/secagg';
import type { DdgPlan } from './ddgPlan.ts';
import { fedAvgStep, releasedMeanDivisor, type ServerState } from './fedavg.ts';
import { metricsDocument, type MetricsDocument } from './metrics.ts';
import { type LedgerEntry, RunPrivacy } from './privacy.ts';
import { droppedCounts, type RoundRecord, type RunIdentity, type RunState } from './records.ts';
import { type EngineCommand, type Party, RoundEngine, type RoundEngineSnapshot } from './roundEngine.ts';
import { minParties, selectParties } from './selection.ts';

/** The timer that starts the next selection attempt (after too few clients, or an aborted round). */
export const NEXT_ROUND_TIMER = 'run#next';
/** How long to wait before selecting again when too few clients are free, and after an aborted attempt. */
export const SELECT_RETRY_MS = 500;
export const ABORT_RETRY_MS = 250;
const SHORTFALL_LOG_MS = 30_000;

export interface RunEngineDeps {
  readonly now: () => number;
  /** Selection's randomness (shuffles, Poisson draws). A CSPRNG in production. */
  readonly random: RandomWords;
  /** Each attempt's public rotation and graph seeds. A CSPRNG in production. */
  readonly seeds: RandomWords;
}

/** Everything a run is made from, new or resumed from persisted state. */
export interface RunSetup {
  readonly run: RunIdentity;
  readonly config: RunConfig;
  readonly plan: DdgPlan;
  /** The global model after `completedRound` (the initial model for a new run). */
  readonly weights: Float32Array;
  readonly momentum: Float32Array | null;
  /** Last completed round, −1 before the first. */
  readonly completedRound: number;
  readonly paused?: boolean;
  /** Every earlier attempt (a resumed run); none may still be 'running'. */
  readonly rounds?: readonly RoundRecord[];
  /** The last ledger entry and how many rounds it holds (a resumed run). */
  readonly ledger?: LedgerEntry & { readonly rounds: number };
  /** Clients already connected and ready when the run starts. */
  readonly clients?: readonly { readonly clientId: string; readonly miniClients: number }[];
}

/** What a round looked like when it ended: the operator's and in-process observers' view. */
export interface RoundSummary {
  runId: string;
  round: number;
  attempt: number;
  status: 'completed' | 'aborted';
  accuracy: number | null;
  loss: number | null;
  epsilon: number | null;
  /** ε against the coordinator, which knows who took part: no sampling amplification (= epsilon without Poisson sampling). */
  epsilonVsCoordinator: number | null;
  /** The extra δ of Poisson selection's redraws (poissonSelection.ts); 0 without Poisson sampling. */
  deltaSelection: number;
  /** Contributions (mini-clients) in the released sum. */
  contributors: number;
  /** Parties whose inputs the sum holds: the accountant's n (null for an attempt never charged). */
  parties: number | null;
  /** Parties selected. */
  selected: number;
  dropped: Partial<Record<SecAggStage, number>>;
  droppedClients: Record<string, SecAggStage>;
  durationsMs: Partial<Record<SecAggStage, number>>;
  bytesUp: number;
  bytesDown: number;
  error: string | null;
}

/** Operator-visible events (the dashboard's live feed). */
export type RunNotice =
  | { type: 'run'; runId: string; state: RunState; reason: string | null }
  | { type: 'round-start'; runId: string; round: number; attempt: number; selected: string[] }
  | { type: 'stage'; runId: string; round: number; attempt: number; stage: SecAggStage; phase: 'open' | 'closed'; dropped: string[]; durationMs?: number }
  | ({ type: 'round' } & RoundSummary);

export type RunEvent =
  | { readonly type: 'start' }
  | { readonly type: 'client-connected'; readonly clientId: string }
  | { readonly type: 'client-ready'; readonly clientId: string; readonly miniClients: number }
  | { readonly type: 'client-disconnected'; readonly clientId: string }
  | { readonly type: 'secagg'; readonly clientId: string; readonly roundId: string; readonly message: SecAggClientMessage; readonly bytes: number }
  | { readonly type: 'timer'; readonly key: string }
  | { readonly type: 'evaluated'; readonly round: number; readonly accuracy: number | null; readonly loss: number | null; readonly error?: string }
  | { readonly type: 'operator'; readonly command: 'pause' | 'resume' | 'stop'; readonly reason?: string }
  | { readonly type: 'tick' }
  | { readonly type: 'shutdown' };

export interface RoundParticipant {
  readonly clientId: string;
  readonly secaggId: number;
  readonly contributions: number;
}

export type PersistOp =
  | { readonly op: 'round-started'; readonly record: RoundRecord; readonly participants: readonly RoundParticipant[] }
  | {
      readonly op: 'stage';
      readonly round: number;
      readonly attempt: number;
      readonly stage: SecAggStage;
      readonly phase: 'open' | 'closed';
      readonly detail: unknown;
      /**
       * On the ConsistencyCheck's close, ahead of the unmask requests: the attempt's privacy charge (write-ahead).
       * The shell stores it with this stage row in one transaction, before it sends anything that follows.
       */
      readonly charge?: RoundCharge;
    }
  | {
      readonly op: 'round-finished';
      readonly record: RoundRecord;
      /** Each party's outcome: in the sum ('finished') or not ('dropped'), and where it dropped. */
      readonly outcomes: readonly { readonly clientId: string; readonly status: 'finished' | 'dropped'; readonly stage: SecAggStage | null }[];
      /**
       * A completed round commits these with it, atomically. `ledger` is null when the attempt was charged at
       * its unmask requests (always, in this engine): the charge is never written twice.
       */
      readonly commit?: { readonly ledger: LedgerEntry | null; readonly weights: Float32Array; readonly momentum: Float32Array | null };
    }
  | { readonly op: 'run-state'; readonly state: RunState; readonly reason: string | null }
  | { readonly op: 'metrics'; readonly document: MetricsDocument };

/** A round attempt's privacy charge: the books after it, and what it was charged for. */
export interface RoundCharge {
  /** The cumulative ledger after the charge; null without noise (nothing to write). */
  readonly ledger: LedgerEntry | null;
  /** The accountant's n: parties whose inputs the sum holds. */
  readonly parties: number;
  readonly contributions: number;
}

export type RunCommand =
  | { readonly kind: 'send'; readonly to: string; readonly event: string; readonly payload: unknown }
  | { readonly kind: 'start-timer'; readonly key: string; readonly ms: number }
  | { readonly kind: 'cancel-timer'; readonly key: string }
  | { readonly kind: 'persist'; readonly what: PersistOp }
  /** Evaluate the released model on held-out data; answer with an `evaluated` event. */
  | { readonly kind: 'evaluate'; readonly round: number; readonly weights: Float32Array }
  /**
   * A round's model is public: its summary (the operators' `round` notice of a completed round) and, for
   * in-process observers only, never sent out, the released mean.
   */
  | {
      readonly kind: 'release';
      readonly summary: RoundSummary;
      readonly mean: Float64Array;
      readonly included: readonly string[];
      readonly weights: Float32Array;
    }
  | { readonly kind: 'notify'; readonly notice: RunNotice }
  | { readonly kind: 'refused'; readonly clientId: string; readonly code: string; readonly reason: string }
  | { readonly kind: 'log'; readonly level: 'info' | 'warn' | 'error'; readonly message: string; readonly fields: Record<string, unknown> }
  | { readonly kind: 'end'; readonly state: 'completed' | 'stopped' | 'failed'; readonly reason: string };

interface LiveRound {
  readonly engine: RoundEngine;
  readonly round: number;
  readonly attempt: number;
  readonly parties: readonly Party[];
  readonly startedAt: number;
  readonly stageOpened: Map<SecAggStage, number>;
  readonly durations: Partial<Record<SecAggStage, number>>;
  readonly timers: Set<string>;
  bytesUp: number;
  bytesDown: number;
  /** Set when the unmask requests went out and the attempt was charged (at n = parties). */
  charged: { readonly parties: number; readonly contributions: number } | null;
}

/** A released round waiting for its evaluation. */
interface Finalizing {
  readonly live: LiveRound;
  readonly next: ServerState;
  readonly mean: Float64Array;
  readonly contributions: number;
  readonly parties: number;
  readonly included: readonly string[];
  readonly droppedAt: Readonly<Record<string, SecAggStage>>;
}

/** The round's live state beside the RoundEngine's, for `snapshotRound` / `restoreRound`. */
export interface LiveRoundSnapshot {
  readonly version: 1;
  readonly engine: RoundEngineSnapshot;
  readonly round: number;
  readonly attempt: number;
  readonly startedAt: number;
  readonly stageOpened: readonly (readonly [SecAggStage, number])[];
  readonly durations: Partial<Record<SecAggStage, number>>;
  readonly timers: readonly string[];
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly roundShortfall: number | null;
  /** The attempt's charge, once its unmask requests went out (absent: not charged). */
  readonly charged?: { readonly parties: number; readonly contributions: number } | null;
}

export class RunEngine {
  private readonly roster = new Map<string, { miniClients: number; ready: boolean }>();
  private server: ServerState;
  private privacy: RunPrivacy;
  private completedRound: number;
  private readonly history: RoundRecord[];
  private paused: boolean;
  private live: LiveRound | null = null;
  private finalizing: Finalizing | null = null;
  private ended: { state: 'completed' | 'stopped' | 'failed'; reason: string } | null = null;
  private stopRequested: string | null = null;
  private shuttingDown = false;
  /** Nothing starts before the `start` event: the shell first tells the engine who is connected. */
  private started = false;
  private nextTimer = false;
  /** p of the current round's first Poisson draw (null before it); carried over its retries. */
  private roundShortfall: number | null = null;
  private lastShortfallLog = Number.NEGATIVE_INFINITY;

  constructor(
    readonly setup: RunSetup,
    private readonly deps: RunEngineDeps,
  ) {
    if (setup.rounds?.some((r) => r.status === 'running'))
      throw new Error('a resumed run must have no attempt still running: mark interrupted attempts aborted first');
    this.server = { weights: setup.weights, momentum: setup.momentum };
    this.completedRound = setup.completedRound;
    this.history = [...(setup.rounds ?? [])];
    this.paused = setup.paused ?? false;
    for (const c of setup.clients ?? []) this.roster.set(c.clientId, { miniClients: c.miniClients, ready: true });
    // Only for a ledger entry from before the coordinator-side ledger was kept in it (privacy.ts).
    const released = this.history.filter((r) => r.status === 'completed').map((r) => r.parties ?? r.contributions ?? 0);
    this.privacy = setup.ledger || released.length ? RunPrivacy.restore(setup.plan, setup.ledger, released) : RunPrivacy.fresh(setup.plan);
  }

  get runId(): string {
    return this.setup.run.id;
  }

  get config(): RunConfig {
    return this.setup.config;
  }

  /** The current global model. */
  get weights(): Float32Array {
    return this.server.weights;
  }

  get lastCompletedRound(): number {
    return this.completedRound;
  }

  get isEnded(): boolean {
    return this.ended !== null;
  }

  get rounds(): readonly RoundRecord[] {
    return this.history;
  }

  /** The run's persisted state now. */
  get state(): RunState {
    if (this.ended) return this.ended.state;
    return this.paused ? 'paused' : 'running';
  }

  /** The round in progress, if any: its SecAgg id for a client, or undefined. */
  secaggIdOf(clientId: string): number | undefined {
    return this.live?.engine.secaggIdOf(clientId);
  }

  status(clientId?: string): Status {
    const live = this.live;
    const base = {
      runId: this.runId,
      rounds: this.config.rounds,
      epsilon: this.privacy.epsilon,
      epsilonBudget: this.setup.plan.epsilonBudget,
      delta: this.setup.plan.delta,
      clientsConnected: this.readyCount(),
    };
    if (this.ended) return { ...base, state: this.ended.state, round: this.completedRound + 1, message: this.ended.reason };
    return {
      ...base,
      state: this.paused ? 'paused' : live ? 'running' : 'waiting',
      round: live?.round ?? this.completedRound + 1,
      ...(clientId && live ? { selected: live.engine.secaggIdOf(clientId) !== undefined } : {}),
    };
  }

  metrics(): MetricsDocument {
    return metricsDocument(this.setup.run, this.state, this.config, this.setup.plan, this.privacy.selectionShortfall, this.history);
  }

  private readyCount(): number {
    let n = 0;
    for (const c of this.roster.values()) if (c.ready) n++;
    return n;
  }

  // ------------------------------------------------------------------ events

  async handle(event: RunEvent): Promise<RunCommand[]> {
    const out: RunCommand[] = [];
    switch (event.type) {
      case 'start':
        this.started = true;
        await this.next(out);
        break;
      case 'client-connected':
        if (!this.roster.has(event.clientId)) this.roster.set(event.clientId, { miniClients: 1, ready: false });
        break;
      case 'client-ready':
        await this.onReady(event.clientId, event.miniClients, out);
        break;
      case 'client-disconnected':
        await this.onDisconnected(event.clientId, out);
        break;
      case 'secagg':
        await this.onSecAgg(event, out);
        break;
      case 'timer':
        await this.onTimer(event.key, out);
        break;
      case 'evaluated':
        await this.onEvaluated(event, out);
        break;
      case 'operator':
        await this.onOperator(event.command, event.reason, out);
        break;
      case 'tick':
        if (!this.nextTimer) await this.next(out);
        break;
      case 'shutdown':
        await this.onShutdown(out);
        break;
    }
    return out;
  }

  private async onReady(clientId: string, miniClients: number, out: RunCommand[]): Promise<void> {
    this.roster.set(clientId, { miniClients, ready: true });
    out.push({ kind: 'send', to: clientId, event: EVENTS.status, payload: this.status(clientId) });
    const live = this.live;
    // A party of the round in progress came back (a reloaded tab): repeat what it may have missed.
    if (live && live.engine.secaggIdOf(clientId) !== undefined) await this.roundStep(live, out, async () => live.engine.onReconnect(clientId));
    // A new client may be what the selection was waiting for.
    if (this.nextTimer) {
      this.nextTimer = false;
      out.push({ kind: 'cancel-timer', key: NEXT_ROUND_TIMER });
    }
    await this.next(out);
  }

  private async onDisconnected(clientId: string, out: RunCommand[]): Promise<void> {
    this.roster.delete(clientId);
    const live = this.live;
    if (live && live.engine.secaggIdOf(clientId) !== undefined) await this.roundStep(live, out, () => live.engine.onDisconnect(clientId));
  }

  private async onSecAgg(e: Extract<RunEvent, { type: 'secagg' }>, out: RunCommand[]): Promise<void> {
    const live = this.live;
    if (!live || live.engine.roundId !== e.roundId) {
      out.push({ kind: 'refused', clientId: e.clientId, code: 'wrong-round', reason: `round ${e.roundId} is not in progress` });
      out.push(log('warn', 'dropped a SecAgg message for a round that is not in progress (late or replayed)', { clientId: e.clientId, roundId: e.roundId }));
      return;
    }
    live.bytesUp += e.bytes;
    await this.roundStep(live, out, () => live.engine.onSecAgg(e.clientId, e.message));
  }

  private async onTimer(key: string, out: RunCommand[]): Promise<void> {
    if (key === NEXT_ROUND_TIMER) {
      if (!this.nextTimer) return;
      this.nextTimer = false;
      await this.next(out);
      return;
    }
    const live = this.live;
    if (!live?.timers.has(key)) return; // stale
    live.timers.delete(key);
    await this.roundStep(live, out, () => live.engine.onDeadline(key));
  }

  private async onOperator(command: 'pause' | 'resume' | 'stop', reason: string | undefined, out: RunCommand[]): Promise<void> {
    if (this.ended) throw new Error(`run ${this.runId} is not active`);
    if (command === 'pause') {
      this.paused = true;
      out.push(persist({ op: 'run-state', state: 'paused', reason: null }));
      out.push(this.notice({ type: 'run', runId: this.runId, state: 'paused', reason: null }));
      this.broadcastStatus(out);
    } else if (command === 'resume') {
      this.paused = false;
      out.push(persist({ op: 'run-state', state: 'running', reason: null }));
      out.push(this.notice({ type: 'run', runId: this.runId, state: 'running', reason: null }));
      this.broadcastStatus(out);
      await this.next(out);
    } else {
      this.stopRequested = reason ?? 'stopped by the operator';
      const live = this.live;
      if (live) await this.roundStep(live, out, async () => live.engine.abort(this.stopRequested!));
      else await this.next(out);
    }
  }

  private async onShutdown(out: RunCommand[]): Promise<void> {
    this.shuttingDown = true;
    if (this.nextTimer) {
      this.nextTimer = false;
      out.push({ kind: 'cancel-timer', key: NEXT_ROUND_TIMER });
    }
    const live = this.live;
    if (live) await this.roundStep(live, out, async () => live.engine.abort('coordinator shutting down'));
  }

  // ------------------------------------------------------------------ the run loop, as a state machine

  /** Starts the next round attempt when nothing else is in the way, or ends the run. */
  private async next(out: RunCommand[]): Promise<void> {
    if (!this.started || this.ended || this.shuttingDown || this.live || this.finalizing || this.nextTimer) return;
    const cfg = this.config;
    const round = this.completedRound + 1;
    if (round >= cfg.rounds) return this.finish('completed', `all ${cfg.rounds} rounds done`, out);
    if (this.stopRequested) return this.finish('stopped', this.stopRequested, out);
    if (this.paused) return;
    // Stop before a round that could push ε past the budget even at n_min parties.
    const over = this.privacy.budgetExceededBy(minParties(cfg));
    if (over !== null)
      return this.finish('completed', `privacy budget reached: another round could spend ε = ${over.toFixed(4)} > ${this.setup.plan.epsilonBudget}`, out);
    const free: Party[] = [];
    for (const [clientId, c] of this.roster) if (c.ready) free.push({ clientId, contributions: Math.min(c.miniClients, cfg.maxMiniClients) });
    const selection = selectParties({
      config: cfg,
      delta: this.setup.plan.delta,
      epsilonBudget: this.setup.plan.epsilonBudget,
      free,
      roundShortfall: this.roundShortfall,
      random: this.deps.random,
    });
    if (selection.kind === 'wait') {
      if (selection.limit !== undefined) {
        const now = this.deps.now();
        if (now - this.lastShortfallLog > SHORTFALL_LOG_MS) {
          this.lastShortfallLog = now;
          out.push(
            log('info', 'Poisson selection: waiting for more clients (a draw now would too likely be smaller than n_min)', {
              runId: this.runId,
              clientsOnline: free.length,
              shortfall: selection.shortfall,
              maxShortfall: selection.limit,
            }),
          );
        }
      } else if (selection.shortfall !== null) this.roundShortfall = selection.shortfall;
      this.nextTimer = true;
      out.push({ kind: 'start-timer', key: NEXT_ROUND_TIMER, ms: SELECT_RETRY_MS });
      return;
    }
    // The retry policy: every started attempt counts.
    const attempt = this.lastAttempt(round) + 1;
    if (attempt > cfg.maxAttempts) return this.finish('failed', `round ${round} aborted ${cfg.maxAttempts} times`, out);
    await this.startRound(round, attempt, selection.parties, selection.shortfall, out);
  }

  private lastAttempt(round: number): number {
    let a = 0;
    for (const r of this.history) if (r.round === round && r.attempt > a) a = r.attempt;
    return a;
  }

  private async startRound(round: number, attempt: number, parties: Party[], shortfall: number | null, out: RunCommand[]): Promise<void> {
    const cfg = this.config;
    const deadlinesMs: Partial<Record<SecAggStage, number>> = {};
    for (const row of SECAGG_STAGE_TABLE) deadlinesMs[row.stage] = cfg.deadlines[row.deadline] * 1000;
    const seeds = randomBytes(this.deps.seeds, 64);
    let started: Awaited<ReturnType<typeof RoundEngine.start>>;
    try {
      started = await RoundEngine.start({
        runId: this.runId,
        round,
        attempt,
        parties,
        modelSpec: cfg.task.model,
        weights: this.server.weights,
        training: cfg.training,
        dpsgd: cfg.dpsgd.enabled
          ? { clip: cfg.dpsgd.clip, noiseMultiplier: cfg.dpsgd.noiseMultiplier, sampling: cfg.dpsgd.sampling, delta: cfg.dpsgd.delta }
          : null,
        ddg: this.setup.plan.params,
        secagg: cfg.secagg,
        deadlinesMs: deadlinesMs as Record<SecAggStage, number>,
        minParties: minParties(cfg),
        ...(releasedMeanDivisor(cfg) !== undefined ? { meanDivisor: releasedMeanDivisor(cfg)! } : {}),
        rotationSeed: seeds.slice(0, 32),
        graphValue: seeds.slice(32),
      });
    } catch (e) {
      // The round cannot be set up (for example no SecAgg parameters for this many parties): nothing was sent.
      out.push(log('error', 'run failed', { runId: this.runId, err: (e as Error).stack }));
      return this.finish('failed', (e as Error).message, out);
    }
    const { engine, commands } = started;
    const now = this.deps.now();
    const record: RoundRecord = {
      ...emptyRecord(round, attempt, now),
      status: 'running',
      selected: parties.length,
    };
    const live: LiveRound = {
      engine,
      round,
      attempt,
      parties,
      startedAt: now,
      stageOpened: new Map(),
      durations: {},
      timers: new Set(),
      bytesUp: 0,
      bytesDown: 0,
      charged: null,
    };
    this.roundShortfall = shortfall;
    this.live = live;
    this.history.push(record);
    const participants = parties.map((p) => ({ clientId: p.clientId, secaggId: engine.secaggIdOf(p.clientId)!, contributions: p.contributions }));
    out.push(persist({ op: 'round-started', record, participants }));
    out.push(
      log('info', 'round started', {
        runId: this.runId,
        round,
        attempt,
        parties: parties.length,
        contributions: parties.reduce((s, p) => s + p.contributions, 0),
      }),
    );
    out.push(this.notice({ type: 'round-start', runId: this.runId, round, attempt, selected: parties.map((p) => p.clientId) }));
    this.broadcastStatus(out);
    await this.translate(live, commands, out);
  }

  /** Runs one RoundEngine step; a step that throws aborts the round (logged), it never leaves it hanging. */
  private async roundStep(live: LiveRound, out: RunCommand[], step: () => Promise<EngineCommand[]> | EngineCommand[]): Promise<void> {
    let commands: EngineCommand[];
    try {
      commands = await step();
    } catch (e) {
      out.push(
        log('error', 'the round engine failed; the attempt is aborted', {
          runId: this.runId,
          round: live.round,
          attempt: live.attempt,
          err: (e as Error).stack,
        }),
      );
      commands = [...live.engine.abort(`internal error: ${(e as Error).message}`)];
      if (!commands.some((c) => c.kind === 'aborted'))
        commands.push({ kind: 'aborted', reason: `internal error: ${(e as Error).message}`, code: 'internal', droppedAt: {} });
    }
    await this.translate(live, commands, out);
  }

  /** The RoundEngine's commands as the run's (sends packed for the wire, bytes counted). */
  private async translate(live: LiveRound, commands: readonly EngineCommand[], out: RunCommand[]): Promise<void> {
    for (const c of commands) {
      switch (c.kind) {
        case 'send': {
          const packed = pack(c.payload);
          live.bytesDown += packed.json.length + packed.bin.length;
          out.push({ kind: 'send', to: c.to, event: c.event, payload: packed });
          break;
        }
        case 'timer':
          live.timers.add(c.key);
          out.push({ kind: 'start-timer', key: c.key, ms: c.ms });
          break;
        case 'cancel-timer':
          live.timers.delete(c.key);
          out.push({ kind: 'cancel-timer', key: c.key });
          break;
        case 'stage': {
          const now = this.deps.now();
          let durationMs: number | undefined;
          if (c.phase === 'open') live.stageOpened.set(c.stage, now);
          else {
            durationMs = now - (live.stageOpened.get(c.stage) ?? now);
            live.durations[c.stage] = durationMs;
          }
          // The unmask requests follow: the sum is computable from here on, so the attempt is charged now,
          // with this stage row, ahead of the first request (and never again at its commit).
          const charge = c.unmasking && !live.charged ? this.chargeAttempt(live, c.unmasking) : undefined;
          out.push(
            persist({
              op: 'stage',
              round: live.round,
              attempt: live.attempt,
              stage: c.stage,
              phase: c.phase,
              detail: { dropped: c.dropped, expected: c.expected },
              ...(charge ? { charge } : {}),
            }),
          );
          if (charge)
            out.push(
              log('info', 'unmasking: the round attempt is charged before its unmask requests go out', {
                runId: this.runId,
                round: live.round,
                attempt: live.attempt,
                parties: charge.parties,
                epsilon: this.privacy.epsilon,
              }),
            );
          out.push(
            this.notice({
              type: 'stage',
              runId: this.runId,
              round: live.round,
              attempt: live.attempt,
              stage: c.stage,
              phase: c.phase,
              dropped: [...c.dropped],
              ...(durationMs !== undefined ? { durationMs } : {}),
            }),
          );
          if (c.dropped.length) out.push(log('info', 'clients dropped at this stage', { round: live.round, stage: c.stage, dropped: c.dropped }));
          break;
        }
        case 'refused':
          out.push({ kind: 'refused', clientId: c.clientId, code: c.code, reason: c.reason });
          out.push(log('warn', `refused a SecAgg message: ${c.reason}`, { clientId: c.clientId, code: c.code, round: live.round }));
          break;
        case 'released':
          this.released(live, c, out);
          break;
        case 'aborted':
          await this.aborted(live, c, out);
          break;
      }
    }
  }

  /** Charges the live attempt at n = its parties in the sum: the books take it now, the returned charge is persisted ahead of the requests. */
  private chargeAttempt(live: LiveRound, u: { readonly parties: number; readonly contributions: number }): RoundCharge {
    const { next, entry } = this.privacy.charge(u.parties, this.roundShortfall);
    this.privacy = next;
    live.charged = { parties: u.parties, contributions: u.contributions };
    return { ledger: entry, parties: u.parties, contributions: u.contributions };
  }

  private endLive(live: LiveRound, out: RunCommand[]): void {
    for (const key of live.timers) out.push({ kind: 'cancel-timer', key });
    live.timers.clear();
    if (this.live === live) this.live = null;
  }

  /** The mean is out of the sum: apply FedAvg and have the model evaluated before the round is committed. */
  private released(live: LiveRound, r: Extract<EngineCommand, { kind: 'released' }>, out: RunCommand[]): void {
    const next = fedAvgStep(this.server, r.mean, this.config.server);
    this.endLive(live, out);
    this.finalizing = { live, next, mean: r.mean, contributions: r.contributions, parties: r.parties, included: r.included, droppedAt: r.droppedAt };
    out.push({ kind: 'evaluate', round: live.round, weights: next.weights });
  }

  private async onEvaluated(e: Extract<RunEvent, { type: 'evaluated' }>, out: RunCommand[]): Promise<void> {
    const f = this.finalizing;
    if (!f || f.live.round !== e.round) return;
    if (e.error) out.push(log('error', 'evaluation of the released model failed', { runId: this.runId, round: e.round, error: e.error }));
    const { live } = f;
    // Charged when its unmask requests went out; a release without that charge cannot happen, but would be
    // charged here rather than not at all.
    const { next: privacy, entry } = live.charged ? { next: this.privacy, entry: null } : this.privacy.charge(f.parties, this.roundShortfall);
    const spent = privacy.spent();
    const now = this.deps.now();
    const record: RoundRecord = {
      ...emptyRecord(live.round, live.attempt, live.startedAt),
      status: 'completed',
      finishedAt: now,
      selected: live.parties.length,
      contributions: f.contributions,
      parties: f.parties,
      accuracy: e.accuracy,
      loss: e.loss,
      epsilon: spent.epsilon,
      epsilonVsCoordinator: spent.epsilonVsCoordinator,
      deltaSelection: spent.deltaSelection,
      durationsMs: { ...live.durations },
      droppedClients: { ...f.droppedAt },
      bytesUp: live.bytesUp,
      bytesDown: live.bytesDown,
    };
    const included = new Set(f.included);
    const outcomes = live.parties.map((p) => ({
      clientId: p.clientId,
      status: included.has(p.clientId) ? ('finished' as const) : ('dropped' as const),
      stage: f.droppedAt[p.clientId] ?? null,
    }));
    // Commit: everything below is assignment.
    this.privacy = privacy;
    this.roundShortfall = null;
    this.server = f.next;
    this.completedRound = live.round;
    this.finalizing = null;
    this.replaceRecord(record);
    out.push(persist({ op: 'round-finished', record, outcomes, commit: { ledger: entry, weights: f.next.weights, momentum: f.next.momentum } }));
    for (const p of live.parties) {
      const end: RoundEnd = {
        roundId: live.engine.roundId,
        round: live.round,
        status: 'completed',
        included: included.has(p.clientId),
        ...(e.accuracy !== null ? { accuracy: e.accuracy } : {}),
        epsilon: spent.epsilon,
      };
      out.push({ kind: 'send', to: p.clientId, event: EVENTS.roundEnd, payload: end });
    }
    out.push(persist({ op: 'metrics', document: this.metrics() }));
    out.push(
      log('info', 'round completed', {
        runId: this.runId,
        round: live.round,
        accuracy: e.accuracy,
        loss: e.loss,
        epsilon: spent.epsilon,
        contributors: f.contributions,
      }),
    );
    // The release is the completed round's notice (aborted rounds get a `round` notice instead).
    out.push({
      kind: 'release',
      summary: this.summaryOf(record, spent.epsilon, spent.deltaSelection),
      mean: f.mean,
      included: f.included,
      weights: f.next.weights,
    });
    this.broadcastStatus(out);
    await this.next(out);
  }

  private async aborted(live: LiveRound, r: Extract<EngineCommand, { kind: 'aborted' }>, out: RunCommand[]): Promise<void> {
    const spent = this.privacy.spent();
    const record: RoundRecord = {
      ...emptyRecord(live.round, live.attempt, live.startedAt),
      status: 'aborted',
      finishedAt: this.deps.now(),
      selected: live.parties.length,
      // An attempt aborted after its unmask requests went out stays charged: its record says what it spent.
      ...(live.charged
        ? { parties: live.charged.parties, epsilon: spent.epsilon, epsilonVsCoordinator: spent.epsilonVsCoordinator, deltaSelection: spent.deltaSelection }
        : {}),
      error: r.reason,
      durationsMs: { ...live.durations },
      droppedClients: { ...r.droppedAt },
      bytesUp: live.bytesUp,
      bytesDown: live.bytesDown,
    };
    const outcomes = live.parties.map((p) => ({ clientId: p.clientId, status: 'dropped' as const, stage: r.droppedAt[p.clientId] ?? null }));
    this.endLive(live, out);
    this.replaceRecord(record);
    out.push(persist({ op: 'round-finished', record, outcomes }));
    for (const p of live.parties) {
      const end: RoundEnd = {
        roundId: live.engine.roundId,
        round: live.round,
        status: 'aborted',
        included: false,
        reason: r.reason,
        ...(live.charged ? { epsilon: spent.epsilon } : {}),
      };
      out.push({ kind: 'send', to: p.clientId, event: EVENTS.roundEnd, payload: end });
    }
    out.push(persist({ op: 'metrics', document: this.metrics() }));
    out.push(log('warn', 'round aborted; it will be re-run', { runId: this.runId, round: live.round, attempt: live.attempt, code: r.code, reason: r.reason }));
    out.push(this.notice({ type: 'round', ...this.summaryOf(record, spent.epsilon, spent.deltaSelection, spent.epsilonVsCoordinator) }));
    if (this.shuttingDown) return;
    if (this.stopRequested) return this.next(out);
    this.nextTimer = true;
    out.push({ kind: 'start-timer', key: NEXT_ROUND_TIMER, ms: ABORT_RETRY_MS });
  }

  private finish(state: 'completed' | 'stopped' | 'failed', reason: string, out: RunCommand[]): void {
    this.ended = { state, reason };
    out.push(persist({ op: 'run-state', state, reason }));
    out.push(persist({ op: 'metrics', document: this.metrics() }));
    out.push(log('info', 'run finished', { runId: this.runId, state, reason }));
    out.push(this.notice({ type: 'run', runId: this.runId, state, reason }));
    this.broadcastStatus(out);
    out.push({ kind: 'end', state, reason });
  }

  private replaceRecord(record: RoundRecord): void {
    const i = this.history.findIndex((r) => r.round === record.round && r.attempt === record.attempt);
    if (i >= 0) this.history[i] = record;
    else this.history.push(record);
  }

  private summaryOf(r: RoundRecord, epsilon: number | null, deltaSelection: number, epsilonVsCoordinator = r.epsilonVsCoordinator): RoundSummary {
    return {
      runId: this.runId,
      round: r.round,
      attempt: r.attempt,
      status: r.status === 'completed' ? 'completed' : 'aborted',
      accuracy: r.accuracy,
      loss: r.loss,
      epsilon,
      epsilonVsCoordinator,
      deltaSelection,
      contributors: r.contributions ?? 0,
      parties: r.parties ?? null,
      selected: r.selected,
      dropped: droppedCounts(r.droppedClients),
      droppedClients: { ...r.droppedClients },
      durationsMs: { ...r.durationsMs },
      bytesUp: r.bytesUp,
      bytesDown: r.bytesDown,
      error: r.error,
    };
  }

  private notice(notice: RunNotice): RunCommand {
    return { kind: 'notify', notice };
  }

  private broadcastStatus(out: RunCommand[]): void {
    for (const [clientId, c] of this.roster) if (c.ready) out.push({ kind: 'send', to: clientId, event: EVENTS.status, payload: this.status(clientId) });
  }

  // ------------------------------------------------------------------ failover

  /** The round in progress as plain data (null between rounds). */
  snapshotRound(): LiveRoundSnapshot | null {
    const live = this.live;
    if (!live) return null;
    return {
      version: 1,
      engine: live.engine.snapshot(),
      round: live.round,
      attempt: live.attempt,
      startedAt: live.startedAt,
      stageOpened: [...live.stageOpened],
      durations: { ...live.durations },
      timers: [...live.timers],
      bytesUp: live.bytesUp,
      bytesDown: live.bytesDown,
      roundShortfall: this.roundShortfall,
      charged: live.charged,
    };
  }

  /**
   * Continues a round from `snapshotRound()` of an engine for the same run (same persisted state: a snapshot
   * of an attempt already charged needs an engine whose ledger holds that charge, as the persisted one does).
   * The timers of the snapshot must be started again by the caller: they are returned as commands.
   */
  async restoreRound(s: LiveRoundSnapshot): Promise<RunCommand[]> {
    if (s?.version !== 1) throw new Error('unknown live round snapshot version');
    if (this.live || this.finalizing || this.ended) throw new Error(`run ${this.runId} is not between rounds: cannot restore a round into it`);
    if (s.engine.setup.runId !== this.runId || s.round !== this.completedRound + 1) {
      throw new Error(`the snapshot is of ${s.engine.setup.runId} round ${s.round}; this engine is at ${this.runId} round ${this.completedRound + 1}`);
    }
    const engine = await RoundEngine.restore(s.engine);
    const live: LiveRound = {
      engine,
      round: s.round,
      attempt: s.attempt,
      parties: s.engine.setup.parties,
      startedAt: s.startedAt,
      stageOpened: new Map(s.stageOpened),
      durations: { ...s.durations },
      timers: new Set(s.timers),
      bytesUp: s.bytesUp,
      bytesDown: s.bytesDown,
      charged: s.charged ?? null,
    };
    const record: RoundRecord = { ...emptyRecord(s.round, s.attempt, s.startedAt), status: 'running', selected: live.parties.length };
    if (this.nextTimer) this.nextTimer = false;
    this.started = true;
    this.roundShortfall = s.roundShortfall;
    this.live = live;
    this.replaceRecord(record);
    const deadlines = s.engine.setup.deadlinesMs;
    return [...live.timers].map((key) => ({ kind: 'start-timer', key, ms: deadlines[engine.stage as SecAggStage] ?? 0 }));
  }
}

function emptyRecord(round: number, attempt: number, startedAt: number): RoundRecord {
  return {
    round,
    attempt,
    status: 'running',
    startedAt,
    finishedAt: null,
    selected: 0,
    contributions: null,
    accuracy: null,
    loss: null,
    epsilon: null,
    epsilonVsCoordinator: null,
    deltaSelection: null,
    error: null,
    durationsMs: {},
    droppedClients: {},
    bytesUp: 0,
    bytesDown: 0,
  };
}

function persist(what: PersistOp): RunCommand {
  return { kind: 'persist', what };
}

function log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown>): RunCommand {
  return { kind: 'log', level, message, fields };
}

function randomBytes(rw: RandomWords, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i += 4) view.setUint32(i, rw.next(), true);
  return out;
}
