/**
 * One federated run as a pure engine, one level above the RoundEngine: events in (a client became ready or
 * left, a SecAgg message arrived, a named timer fired, the evaluation of a released model came back, an
 * operator command), commands out (send to a client, start or cancel a timer, persist, evaluate, release a
 * round, notify operators, end the run). It owns selection (fixed-size and Poisson with the shortfall rule),
 * the privacy-budget stop, the retry policy, the server optimizer (fedOpt.ts: FedAvg, FedAvgM, FedAdam, FedYogi,
 * FedAdagrad) whose state is committed with each round, both privacy
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
import { clipCountFraction, type RandomWords } from '@hushfl/ddp';
import { EVENTS, pack, type RoundEnd, type RunConfig, serverOptimizerOf, type Status, vectorBytes } from '@hushfl/protocol';
import { type MaskApplier, SECAGG_STAGE_TABLE, type SecAggClientMessage, type SecAggStage } from '@hushfl/secagg';
import { type DdgPlan, initialAdaptiveClip } from './ddgPlan.ts';
import { federatedMetricsOf, roundEvaluation } from './federatedEvaluation.ts';
import { releasedMeanDivisor } from './fedavg.ts';
import { type FedOptState, fedOptStep } from './fedOpt.ts';
import { metricsDocument, type MetricsDocument } from './metrics.ts';
import { type LedgerEntry, RunPrivacy } from './privacy.ts';
import { droppedCounts, emptyRecord, type FederatedMetrics, type RoundRecord, type RunIdentity, type RunState } from './records.ts';
import { type EngineCommand, type Party, type RoundConduct, RoundEngine, type RoundEngineSnapshot } from './roundEngine.ts';
import { expectedClientsPerRound, minParties, selectParties } from './selection.ts';

/** The timer that starts the next selection attempt (after too few clients, or an aborted round). */
export const NEXT_ROUND_TIMER = 'run#next';
/** How long to wait before selecting again when too few clients are free, and after an aborted attempt. */
export const SELECT_RETRY_MS = 500;
export const ABORT_RETRY_MS = 250;
const SHORTFALL_LOG_MS = 30_000;
/** At most this often are clients told a new waiting count (setWaiting). */
const WAITING_STATUS_MS = 2_000;
/** A stage still open this long after its deadline is a stall: the watchdog aborts the attempt, loudly. */
export const WATCHDOG_GRACE_MS = 5_000;
/** Invalid SecAgg messages from a selected party after which it is excluded from the run. */
export const MAX_VIOLATIONS = 3;
/** Consecutive attempts a party may time out in before it must answer a liveness probe to be selected again. */
export const MAX_CONSECUTIVE_TIMEOUTS = 2;
/**
 * Excused attempts of one round after which the run pauses with the reason: parties that keep failing rounds
 * (fresh Sybil identities, echoing but silent endpoints) cost attempts, never the run, but not forever either.
 */
export const MAX_EXCUSED_ATTEMPTS = 100;
/** Attempts aborted by store errors after which — once the store has failed for STORE_PAUSE_AFTER_MS — the run pauses. */
export const MAX_STORE_FAILURES = 3;
export const STORE_PAUSE_AFTER_MS = 30_000;
/**
 * Refusal codes no honest client's message earns once it is a party (messages.ts, server.ts): a malformed
 * message, a bad key or signature. Duplicates, late and wrong-stage messages are what reconnects produce.
 */
const VIOLATION_CODES: ReadonlySet<string> = new Set(['bad-message', 'malformed-key', 'bad-signature', 'bad-length', 'out-of-range']);

export interface RunEngineDeps {
  readonly now: () => number;
  /** Selection's randomness (shuffles, Poisson draws). A CSPRNG in production. */
  readonly random: RandomWords;
  /** Each attempt's public rotation and graph seeds, and liveness nonces. A CSPRNG in production. */
  readonly seeds: RandomWords;
  /** Where unmasking regenerates masks (default in process; the coordinator's worker threads). */
  readonly masks?: MaskApplier;
}

/** Everything a run is made from, new or resumed from persisted state. */
export interface RunSetup {
  readonly run: RunIdentity;
  readonly config: RunConfig;
  readonly plan: DdgPlan;
  /** The global model after `completedRound` (the initial model for a new run). */
  readonly weights: Float32Array;
  /** The server optimizer's state after `completedRound` (NO_FEDOPT_STATE for a new run). */
  readonly optimizerState: FedOptState;
  /** Adaptive clipping: the clip C after `completedRound` (absent: the initial one, the plan's update clip). */
  readonly clip?: number;
  /** Last completed round, −1 before the first. */
  readonly completedRound: number;
  readonly paused?: boolean;
  /** Every earlier attempt (a resumed run); none may still be 'running'. */
  readonly rounds?: readonly RoundRecord[];
  /** The last ledger entry and how many rounds it holds (a resumed run). */
  readonly ledger?: LedgerEntry & { readonly rounds: number };
  /** Clients already connected and ready when the run starts. */
  readonly clients?: readonly { readonly clientId: string; readonly miniClients: number }[];
  /** Parties excluded earlier in the run for misbehaving (persisted), with why. */
  readonly excluded?: readonly { readonly clientId: string; readonly reason: string }[];
  /** Attempts of the next round numbered up to this do not count toward maxAttempts (an operator resumed a failed run). */
  readonly attemptFloor?: number;
}

/** What a round looked like when it ended: the operator's and in-process observers' view. */
export interface RoundSummary {
  runId: string;
  round: number;
  attempt: number;
  status: 'completed' | 'aborted';
  /** The coordinator's evaluation of the released model (null without a held-out set). */
  accuracy: number | null;
  loss: number | null;
  /**
   * Federated evaluation over the round's parties (issue 14 §5), from the noisy sum; null without it or
   * unreleased (always set by the engine; optional for summaries built elsewhere).
   */
  federated?: FederatedMetrics | null;
  /** Adaptive clipping: the attempt's clip C_t and its noisy within-clip share b̄_t (absent with a fixed clip). */
  clip?: number;
  clipFraction?: number | null;
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
  /** Periodic (the shell's clock, about once a second): the watchdog and waiting selection look at the time. */
  | { readonly type: 'tick' }
  /** A client answered a liveness probe. */
  | { readonly type: 'liveness'; readonly clientId: string; readonly nonce: string }
  /** The shell could not carry out a persist command of the last step (the rest of that step was not carried out). */
  | { readonly type: 'store-failed'; readonly error: string }
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
      readonly commit?: {
        readonly ledger: LedgerEntry | null;
        readonly weights: Float32Array;
        readonly optimizerState: FedOptState;
        /** Adaptive clipping's C for the next round (null with a fixed clip). */
        readonly clip: number | null;
      };
    }
  /** The evaluation of a committed round came back (the round itself was committed before it was evaluated). */
  | { readonly op: 'round-evaluated'; readonly round: number; readonly attempt: number; readonly accuracy: number | null; readonly loss: number | null }
  /** A party is excluded from the rest of the run. */
  | { readonly op: 'party-excluded'; readonly clientId: string; readonly reason: string; readonly round: number; readonly attempt: number }
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

/** A released round, committed, waiting for its evaluation. */
interface Finalizing {
  readonly live: LiveRound;
  readonly record: RoundRecord;
  readonly mean: Float64Array;
  readonly included: readonly string[];
  readonly spent: ReturnType<RunPrivacy['spent']>;
}

/**
 * What the run knows of a party's liveness: whether it ever echoed a probe (every party must, once, before
 * its first selection: an idle Sybil is then never selected), consecutive attempts it timed out in, and its
 * probes. Kept across a reconnect only while it holds a record of silence (a reconnect resets nothing).
 */
interface Liveness {
  proven: boolean;
  timeouts: number;
  /** Set while the party must answer this probe before it is selected again. */
  probe: string | null;
  /** Probes sent since it was last in a released sum. */
  probes: number;
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
  /** The server optimizer's state the round's release steps from (absent in snapshots from before it was kept). */
  readonly optimizerState?: { readonly m: Uint8Array | null; readonly v: Uint8Array | null };
}

export class RunEngine {
  private readonly roster = new Map<string, { miniClients: number; ready: boolean }>();
  private server: { readonly weights: Float32Array; readonly optimizerState: FedOptState };
  /** Adaptive clipping's C_t for the next round (null with a fixed clip). */
  private clip: number | null;
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
  /** Parties excluded from the rest of the run, with why (persisted). */
  private readonly excluded = new Map<string, string>();
  /** Round → its last attempt when the operator resumed the run: earlier attempts no longer count. */
  private readonly resumedAt = new Map<number, number>();
  private readonly liveness = new Map<string, Liveness>();
  /** Invalid SecAgg messages per party this run. */
  private readonly violations = new Map<string, number>();
  /** Attempts aborted by store errors since the last released round or operator resume, and when the first was. */
  private storeFailures = 0;
  private storeFailingSince: number | null = null;
  /** Why no round can start now (shown as the status message while waiting), null when none is waiting. */
  private waiting: string | null = null;
  private lastWaitingLog = Number.NEGATIVE_INFINITY;
  /** The waiting reason the clients were last told, and when (setWaiting). */
  private waitingSent: string | null = null;
  private waitingSentAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly setup: RunSetup,
    private readonly deps: RunEngineDeps,
  ) {
    if (setup.rounds?.some((r) => r.status === 'running'))
      throw new Error('a resumed run must have no attempt still running: mark interrupted attempts aborted first');
    this.server = { weights: setup.weights, optimizerState: setup.optimizerState };
    this.clip = setup.plan.clipCount ? (setup.clip ?? initialAdaptiveClip(setup.config, setup.plan, setup.weights.length)) : null;
    this.completedRound = setup.completedRound;
    this.history = [...(setup.rounds ?? [])];
    this.paused = setup.paused ?? false;
    for (const c of setup.clients ?? []) this.roster.set(c.clientId, { miniClients: c.miniClients, ready: true });
    for (const x of setup.excluded ?? []) this.excluded.set(x.clientId, x.reason);
    // Clients already connected prove they are live like any other (their probes go out at 'start').
    for (const c of setup.clients ?? []) this.liveness.set(c.clientId, this.unproven());
    this.privacy = privacyOf(setup);
  }

  /**
   * Why a run in this persisted state cannot be resumed — every round done, or the budget too small for
   * another round at n_min parties — or null when it can. The operator is told this instead of a run that
   * would end again at once.
   */
  static resumeRefusal(setup: RunSetup): string | null {
    if (setup.completedRound + 1 >= setup.config.rounds) return `all ${setup.config.rounds} rounds are done`;
    const over = privacyOf(setup).budgetExceededBy(minParties(setup.config));
    if (over !== null) return `the privacy budget is spent: another round could spend ε = ${over.toFixed(4)} > ${setup.plan.epsilonBudget}`;
    return null;
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
      ...(this.excluded.size > 0 ? { excluded: this.excluded.size } : {}),
      ...(clientId && this.excluded.has(clientId) ? { excludedReason: this.excluded.get(clientId)! } : {}),
    };
    if (this.ended) return { ...base, state: this.ended.state, round: this.completedRound + 1, message: this.ended.reason };
    const state = this.paused ? 'paused' : live ? 'running' : 'waiting';
    return {
      ...base,
      state,
      round: live?.round ?? this.completedRound + 1,
      ...(clientId && live ? { selected: live.engine.secaggIdOf(clientId) !== undefined } : {}),
      ...(state === 'waiting' && this.waiting ? { message: this.waiting } : {}),
    };
  }

  /** Parties excluded from the rest of the run, with why. */
  get excludedParties(): ReadonlyMap<string, string> {
    return this.excluded;
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
        for (const c of this.setup.clients ?? []) {
          const probe = this.liveness.get(c.clientId)?.probe;
          if (probe) out.push(this.probeOf(c.clientId, probe));
        }
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
        await this.onTick(out);
        break;
      case 'liveness':
        await this.onLiveness(event.clientId, event.nonce, out);
        break;
      case 'store-failed':
        await this.onStoreFailed(event.error, out);
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
    // A new party proves it is live before it can be selected; one with an open probe gets it again.
    const l = this.liveness.get(clientId) ?? this.unproven();
    this.liveness.set(clientId, l);
    if (l.probe) out.push(this.probeOf(clientId, l.probe));
    const live = this.live;
    // A party of the round in progress came back (a reloaded tab): repeat what it may have missed.
    if (live && live.engine.secaggIdOf(clientId) !== undefined) await this.roundStep(live, out, async () => live.engine.onReconnect(clientId));
    // A new client may be what the selection was waiting for.
    await this.eligibleArrived(out);
  }

  private async onDisconnected(clientId: string, out: RunCommand[]): Promise<void> {
    this.roster.delete(clientId);
    // Memory stays bounded by who is connected: only a record of silence outlives the connection.
    const l = this.liveness.get(clientId);
    if (l && l.timeouts === 0 && l.probes === 0) this.liveness.delete(clientId);
    const live = this.live;
    if (live && live.engine.secaggIdOf(clientId) !== undefined) await this.roundStep(live, out, () => live.engine.onDisconnect(clientId));
  }

  private async onSecAgg(e: Extract<RunEvent, { type: 'secagg' }>, out: RunCommand[]): Promise<void> {
    const live = this.live;
    if (!live || live.engine.roundId !== e.roundId) {
      // The shell logs refusals in rate-limited summaries (a flood of late messages is no flood of log lines).
      out.push({ kind: 'refused', clientId: e.clientId, code: 'wrong-round', reason: `round ${e.roundId} is not in progress` });
      return;
    }
    // Counted before the step (the step may close the round and build its record), taken back if refused:
    // the byte counters hold only accepted messages of parties.
    live.bytesUp += e.bytes;
    const from = out.length;
    await this.roundStep(live, out, () => live.engine.onSecAgg(e.clientId, e.message));
    if (out.slice(from).some((c) => c.kind === 'refused' && c.clientId === e.clientId)) live.bytesUp -= e.bytes;
  }

  /** The watchdog: a stage open past its deadline by more than WATCHDOG_GRACE_MS is a stall; abort it loudly. */
  private async onTick(out: RunCommand[]): Promise<void> {
    const live = this.live;
    const stage = live?.engine.stage;
    if (live && stage && stage !== 'done' && stage !== 'aborted') {
      const opened = live.stageOpened.get(stage);
      const deadline = this.config.deadlines[SECAGG_STAGE_TABLE.find((r) => r.stage === stage)!.deadline] * 1000;
      const over = opened === undefined ? 0 : this.deps.now() - opened - deadline;
      if (over > WATCHDOG_GRACE_MS) {
        const reason = `watchdog: stage ${stage} is still open ${Math.round(over / 1000)} s after its deadline`;
        out.push(log('error', `${reason}; the attempt is aborted`, { runId: this.runId, round: live.round, attempt: live.attempt, stage }));
        await this.roundStep(live, out, async () => live.engine.abort(reason, 'watchdog'));
        return;
      }
    }
    if (!this.nextTimer) await this.next(out);
  }

  private async onLiveness(clientId: string, nonce: string, out: RunCommand[]): Promise<void> {
    const l = this.liveness.get(clientId);
    if (!l?.probe || l.probe !== nonce) return;
    l.probe = null;
    l.proven = true;
    l.timeouts = 0;
    if (l.probes > 0) out.push(log('info', 'a party answered its liveness probe: it can be selected again', { runId: this.runId, clientId }));
    await this.eligibleArrived(out);
  }

  /** A party became eligible: it may be what a waiting selection needs. */
  private async eligibleArrived(out: RunCommand[]): Promise<void> {
    if (this.nextTimer) {
      this.nextTimer = false;
      out.push({ kind: 'cancel-timer', key: NEXT_ROUND_TIMER });
    }
    await this.next(out);
  }

  private unproven(): Liveness {
    return { proven: false, timeouts: 0, probe: randomHex(this.deps.seeds, 4), probes: 0 };
  }

  private probeOf(clientId: string, nonce: string): RunCommand {
    return { kind: 'send', to: clientId, event: EVENTS.liveness, payload: { nonce } };
  }

  /**
   * The shell could not persist part of the last step: the attempt in progress (whose commands were not all
   * carried out) is aborted with the error, without counting toward maxAttempts. When MAX_STORE_FAILURES
   * attempts were aborted so over at least STORE_PAUSE_AFTER_MS (a short lock is ridden out), the run pauses
   * with the reason, to be resumed by the operator once the store works. Writes that fail between attempts
   * (the abort's own record) are logged, not counted.
   */
  private async onStoreFailed(error: string, out: RunCommand[]): Promise<void> {
    const live = this.live;
    out.push(log('error', 'a store write failed', { runId: this.runId, error, attemptAborted: live !== null }));
    if (!live) return;
    this.storeFailures++;
    this.storeFailingSince ??= this.deps.now();
    await this.roundStep(live, out, async () => live.engine.abort(`store error: ${error}`, 'store'));
    const failingFor = this.deps.now() - this.storeFailingSince;
    if (this.storeFailures >= MAX_STORE_FAILURES && failingFor >= STORE_PAUSE_AFTER_MS && !this.paused && !this.ended) {
      const reason = `the store failed in ${this.storeFailures} attempts over ${Math.round(failingFor / 1000)} s (last: ${error}); resume once it works again`;
      out.push(log('error', 'the store is unusable', { runId: this.runId, reason }));
      this.pauseFor(reason, out);
    }
  }

  /** Excludes a party from the rest of the run (persisted); it stays connected but is never selected again. */
  private exclude(clientId: string, reason: string, live: LiveRound, out: RunCommand[]): void {
    if (this.excluded.has(clientId)) return;
    this.excluded.set(clientId, reason);
    out.push(persist({ op: 'party-excluded', clientId, reason, round: live.round, attempt: live.attempt }));
    out.push(log('warn', 'party excluded from the rest of the run', { runId: this.runId, clientId, reason }));
    if (this.roster.get(clientId)?.ready) out.push({ kind: 'send', to: clientId, event: EVENTS.status, payload: this.status(clientId) });
  }

  /**
   * The liveness rule: a party that did not answer a stage (silent at its deadline, or gone) in
   * MAX_CONSECUTIVE_TIMEOUTS attempts in a row is probed and not selected until it echoes the probe. A party
   * that answered every stage it was asked starts its count again; one in a released sum starts afresh. Silence
   * alone never excludes (a slow phone is no liar): the excused-attempt cap bounds what it costs.
   */
  private trackLiveness(live: LiveRound, unanswered: readonly string[], included: readonly string[], out: RunCommand[]): void {
    const silent = new Set(unanswered);
    const summed = new Set(included);
    for (const p of live.parties) {
      const l = this.liveness.get(p.clientId) ?? { proven: true, timeouts: 0, probe: null, probes: 0 };
      const connected = this.roster.has(p.clientId);
      if (summed.has(p.clientId) || !silent.has(p.clientId)) {
        // A clean record of a party that has left is not kept (memory stays bounded by who is connected).
        if (!connected && l.probes === 0) this.liveness.delete(p.clientId);
        else this.liveness.set(p.clientId, summed.has(p.clientId) ? { proven: true, timeouts: 0, probe: null, probes: 0 } : { ...l, timeouts: 0 });
        continue;
      }
      l.timeouts++;
      if (l.timeouts >= MAX_CONSECUTIVE_TIMEOUTS && !l.probe) {
        l.probes++;
        l.probe = randomHex(this.deps.seeds, 4);
        out.push(this.probeOf(p.clientId, l.probe));
        out.push(
          log('info', 'a party did not answer in consecutive attempts: it is not selected until it answers a liveness probe', {
            runId: this.runId,
            clientId: p.clientId,
            timeouts: l.timeouts,
          }),
        );
      }
      this.liveness.set(p.clientId, l);
    }
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
      // The operator's resume starts the store's count and the round's excused attempts afresh.
      this.paused = false;
      this.storeFailures = 0;
      this.storeFailingSince = null;
      const round = this.completedRound + 1;
      this.resumedAt.set(round, this.lastAttempt(round));
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
    let excludedOnline = 0;
    let probedOnline = 0;
    for (const [clientId, c] of this.roster) {
      if (!c.ready) continue;
      const l = this.liveness.get(clientId);
      if (this.excluded.has(clientId)) excludedOnline++;
      else if (!l?.proven || l.probe) probedOnline++;
      else free.push({ clientId, contributions: Math.min(c.miniClients, cfg.maxMiniClients) });
    }
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
      this.setWaiting(this.waitingReason(free.length, excludedOnline, probedOnline), out);
      this.nextTimer = true;
      out.push({ kind: 'start-timer', key: NEXT_ROUND_TIMER, ms: SELECT_RETRY_MS });
      return;
    }
    // The retry policy: aborted attempts count, except those excused (misbehaving or silent parties, the store).
    const counted = this.countedAttempts(round);
    if (counted >= cfg.maxAttempts)
      return this.finish('failed', `round ${round} aborted ${counted} times with no party to blame (maxAttempts = ${cfg.maxAttempts})`, out);
    const excused = this.countedAttempts(round, true);
    if (excused >= MAX_EXCUSED_ATTEMPTS) {
      const reason = `round ${round} was aborted ${excused} times by misbehaving or silent parties: the run is paused (consider access: { enrollment: true }); resume to try again`;
      return this.pauseFor(reason, out);
    }
    this.setWaiting(null, out);
    await this.startRound(round, this.lastAttempt(round) + 1, selection.parties, selection.shortfall, out);
  }

  private lastAttempt(round: number): number {
    let a = 0;
    for (const r of this.history) if (r.round === round && r.attempt > a) a = r.attempt;
    return a;
  }

  /** Aborted attempts of `round` after the operator's last resume: those that count toward maxAttempts, or the excused ones. */
  private countedAttempts(round: number, excused = false): number {
    const floor = Math.max(round === this.setup.completedRound + 1 ? (this.setup.attemptFloor ?? 0) : 0, this.resumedAt.get(round) ?? 0);
    return this.history.filter((r) => r.round === round && r.status === 'aborted' && Boolean(r.excused) === excused && r.attempt > floor).length;
  }

  private pauseFor(reason: string, out: RunCommand[]): void {
    this.paused = true;
    if (this.nextTimer) {
      this.nextTimer = false;
      out.push({ kind: 'cancel-timer', key: NEXT_ROUND_TIMER });
    }
    out.push(persist({ op: 'run-state', state: 'paused', reason }));
    out.push(log('warn', 'run paused', { runId: this.runId, reason }));
    out.push(this.notice({ type: 'run', runId: this.runId, state: 'paused', reason }));
    this.broadcastStatus(out);
  }

  /** Why selection waits, in words for the dashboard; null when nothing but ordinary arrivals is missing. */
  private waitingReason(eligible: number, excludedOnline: number, probedOnline: number): string {
    const cfg = this.config;
    const need =
      'sampleRate' in cfg.selection
        ? `a Poisson draw of at least n_min = ${minParties(cfg)}`
        : `${Math.max(minParties(cfg), expectedClientsPerRound(cfg))} parties`;
    const held = [
      ...(excludedOnline > 0 ? [`${excludedOnline} connected part${excludedOnline === 1 ? 'y is' : 'ies are'} excluded for misbehaving`] : []),
      ...(probedOnline > 0 ? [`${probedOnline} connected must first answer a liveness probe`] : []),
    ];
    return `waiting for clients: ${eligible} eligible, a round needs ${need}${held.length ? `; ${held.join('; ')}` : ''}`;
  }

  private setWaiting(reason: string | null, out: RunCommand[]): void {
    const now = this.deps.now();
    if (reason !== this.waiting) {
      this.waiting = reason;
      if (reason && now - this.lastWaitingLog > SHORTFALL_LOG_MS) {
        this.lastWaitingLog = now;
        out.push(log('info', reason, { runId: this.runId }));
      }
    }
    if (reason === this.waitingSent) return;
    // The reason counts the clients, so it changes with every arrival: telling every ready client each time
    // is O(n²) messages while a population gathers (issue 17's load test: 5 000 clients stalled two nodes).
    // Starting or stopping to wait is told at once; a changed count at most every WAITING_STATUS_MS (the
    // tick that calls this again sends the latest).
    const started = (reason === null) !== (this.waitingSent === null);
    if (!started && now - this.waitingSentAt < WAITING_STATUS_MS) return;
    this.waitingSent = reason;
    this.waitingSentAt = now;
    this.broadcastStatus(out);
  }

  private async startRound(round: number, attempt: number, parties: Party[], shortfall: number | null, out: RunCommand[]): Promise<void> {
    const cfg = this.config;
    const deadlinesMs: Partial<Record<SecAggStage, number>> = {};
    for (const row of SECAGG_STAGE_TABLE) deadlinesMs[row.stage] = cfg.deadlines[row.deadline] * 1000;
    const seeds = randomBytes(this.deps.seeds, 64);
    let started: Awaited<ReturnType<typeof RoundEngine.start>>;
    try {
      started = await RoundEngine.start(
        {
          runId: this.runId,
          round,
          attempt,
          parties,
          modelSpec: cfg.task.model,
          task: cfg.task.name,
          weights: this.server.weights,
          modelEncoding: cfg.task.modelEncoding,
          training: cfg.training,
          dpsgd: cfg.dpsgd.enabled
            ? { clip: cfg.dpsgd.clip, noiseMultiplier: cfg.dpsgd.noiseMultiplier, sampling: cfg.dpsgd.sampling, delta: cfg.dpsgd.delta }
            : null,
          ddg: this.setup.plan.params,
          evaluation: roundEvaluation(cfg, this.setup.plan.params.dim, this.server.weights.length),
          adaptiveClip:
            this.clip === null
              ? null
              : { clip: this.clip, countStddev: this.setup.plan.clipCount!.countStddev, countScale: this.setup.plan.clipCount!.countScale },
          secagg: cfg.secagg,
          deadlinesMs: deadlinesMs as Record<SecAggStage, number>,
          minParties: minParties(cfg),
          ...(releasedMeanDivisor(cfg) !== undefined ? { meanDivisor: releasedMeanDivisor(cfg)! } : {}),
          rotationSeed: seeds.slice(0, 32),
          graphValue: seeds.slice(32),
        },
        this.deps.masks,
      );
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
        commands.push({
          kind: 'aborted',
          reason: `internal error: ${(e as Error).message}`,
          code: 'internal',
          droppedAt: {},
          misbehaving: [],
          collusionBound: 0,
          unanswered: [],
        });
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
              detail: { dropped: c.dropped, expected: c.expected, ...(c.unopenedShareBoxes ? { unopenedShareBoxes: c.unopenedShareBoxes } : {}) },
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
        case 'refused': {
          out.push({ kind: 'refused', clientId: c.clientId, code: c.code, reason: c.reason });
          if (!VIOLATION_CODES.has(c.code) || live.engine.secaggIdOf(c.clientId) === undefined) break;
          const n = (this.violations.get(c.clientId) ?? 0) + 1;
          this.violations.set(c.clientId, n);
          if (n >= MAX_VIOLATIONS) this.exclude(c.clientId, `sent ${n} invalid SecAgg messages as a party (last: ${c.reason})`, live, out);
          break;
        }
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

  /**
   * The mean is out of the sum: apply FedAvg and commit the round at once — model, record and (if it were not
   * already) its charge — then have the model evaluated. A crash during the evaluation loses only its accuracy.
   */
  private released(live: LiveRound, r: Extract<EngineCommand, { kind: 'released' }>, out: RunCommand[]): void {
    const step = fedOptStep(this.server.weights, r.mean, this.server.optimizerState, serverOptimizerOf(this.config.server));
    const next = { weights: step.weights, optimizerState: step.state };
    const adapted = this.adaptClip(r);
    // Charged when its unmask requests went out; a release without that charge cannot happen, but would be
    // charged here rather than not at all.
    const { next: privacy, entry } = live.charged ? { next: this.privacy, entry: null } : this.privacy.charge(r.parties, this.roundShortfall);
    const spent = privacy.spent();
    const record: RoundRecord = {
      ...emptyRecord(live.round, live.attempt, live.startedAt),
      status: 'completed',
      finishedAt: this.deps.now(),
      selected: live.parties.length,
      contributions: r.contributions,
      parties: r.parties,
      federated: r.federated ? federatedMetricsOf(r.federated) : null,
      clip: this.clip,
      clipFraction: adapted?.fraction ?? null,
      epsilon: spent.epsilon,
      epsilonVsCoordinator: spent.epsilonVsCoordinator,
      deltaSelection: spent.deltaSelection,
      durationsMs: { ...live.durations },
      droppedClients: { ...r.droppedAt },
      bytesUp: live.bytesUp,
      bytesDown: live.bytesDown,
    };
    const included = new Set(r.included);
    const outcomes = live.parties.map((p) => ({
      clientId: p.clientId,
      status: included.has(p.clientId) ? ('finished' as const) : ('dropped' as const),
      stage: r.droppedAt[p.clientId] ?? null,
    }));
    // Commit: everything below is assignment.
    this.endLive(live, out);
    this.actOnConduct(live, r, r.included, out);
    this.privacy = privacy;
    this.roundShortfall = null;
    this.server = next;
    if (adapted) this.clip = adapted.clip;
    this.completedRound = live.round;
    this.storeFailures = 0;
    this.storeFailingSince = null;
    this.replaceRecord(record);
    this.finalizing = { live, record, mean: r.mean, included: r.included, spent };
    out.push(
      persist({
        op: 'round-finished',
        record,
        outcomes,
        commit: { ledger: entry, weights: next.weights, optimizerState: next.optimizerState, clip: this.clip },
      }),
    );
    out.push({ kind: 'evaluate', round: live.round, weights: next.weights });
  }

  private async onEvaluated(e: Extract<RunEvent, { type: 'evaluated' }>, out: RunCommand[]): Promise<void> {
    const f = this.finalizing;
    if (!f || f.live.round !== e.round) return;
    if (e.error) out.push(log('error', 'evaluation of the released model failed', { runId: this.runId, round: e.round, error: e.error }));
    const { live, spent } = f;
    const record: RoundRecord = { ...f.record, accuracy: e.accuracy, loss: e.loss };
    this.finalizing = null;
    this.replaceRecord(record);
    out.push(persist({ op: 'round-evaluated', round: live.round, attempt: live.attempt, accuracy: e.accuracy, loss: e.loss }));
    const included = new Set(f.included);
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
        ...(record.federated ? { federatedAccuracy: record.federated.accuracy, federatedExamples: record.federated.examples } : {}),
        epsilon: spent.epsilon,
        contributors: record.contributions,
      }),
    );
    // The release is the completed round's notice (aborted rounds get a `round` notice instead).
    out.push({
      kind: 'release',
      summary: this.summaryOf(record, spent.epsilon, spent.deltaSelection),
      mean: f.mean,
      included: f.included,
      weights: this.server.weights,
    });
    this.broadcastStatus(out);
    await this.next(out);
  }

  /** Exclusion and liveness from how the parties behaved in an attempt that ended. */
  /**
   * An accusation on the word of more parties than the collusion bound has an honest source: the party is
   * excluded. One on fewer may be colluders framing an honest party, and the coordinator cannot check a report
   * or tell a lying holder from a lying dealer: nobody is excluded, the attempt is excused, and the run pauses
   * after MAX_EXCUSED_ATTEMPTS of them (colluders can stall a round as well by withholding their shares).
   */
  private actOnConduct(live: LiveRound, c: RoundConduct, included: readonly string[], out: RunCommand[]): void {
    for (const m of c.misbehaving) {
      const sources = `on the word of ${m.evidence.length} part${m.evidence.length === 1 ? 'y' : 'ies'}`;
      if (m.evidence.length > c.collusionBound)
        this.exclude(m.clientId, `${m.reason} (${sources}, more than the ${c.collusionBound} that may collude)`, live, out);
      else
        out.push(
          log('warn', `a party was accused ${sources}, no more than may collude: not excluded`, { runId: this.runId, clientId: m.clientId, reason: m.reason }),
        );
    }
    this.trackLiveness(live, c.unanswered, included, out);
  }

  /** Why an aborted attempt does not count toward maxAttempts, or null when it counts. */
  private excuseOf(r: Extract<EngineCommand, { kind: 'aborted' }>): string | null {
    if (r.misbehaving.length > 0) return `misbehaving parties accused: ${r.misbehaving.map((m) => m.clientId).join(', ')}`;
    if (r.code === 'store') return 'a store error, not the parties';
    if (r.unanswered.length > 0 && (r.code === 'unrecoverable' || r.code === 'too-few-parties'))
      return `${r.unanswered.length} selected part${r.unanswered.length === 1 ? 'y' : 'ies'} did not answer (silent until a deadline, or gone; not selected again after ${MAX_CONSECUTIVE_TIMEOUTS} in a row until they answer a liveness probe)`;
    return null;
  }

  private async aborted(live: LiveRound, r: Extract<EngineCommand, { kind: 'aborted' }>, out: RunCommand[]): Promise<void> {
    const spent = this.privacy.spent();
    const excused = this.excuseOf(r);
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
      excused,
      durationsMs: { ...live.durations },
      droppedClients: { ...r.droppedAt },
      bytesUp: live.bytesUp,
      bytesDown: live.bytesDown,
    };
    const outcomes = live.parties.map((p) => ({ clientId: p.clientId, status: 'dropped' as const, stage: r.droppedAt[p.clientId] ?? null }));
    this.endLive(live, out);
    this.actOnConduct(live, r, [], out);
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
    out.push(
      log('warn', 'round aborted; it will be re-run', {
        runId: this.runId,
        round: live.round,
        attempt: live.attempt,
        code: r.code,
        reason: r.reason,
        ...(excused ? { excused } : {}),
      }),
    );
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
      federated: r.federated ?? null,
      ...(r.clip != null ? { clip: r.clip, clipFraction: r.clipFraction ?? null } : {}),
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

  /**
   * Andrew et al. 2021, Algorithm 1: b̄_t = S/(2h·m̃) + 1/2 from the noisy count (clipCount.ts), m̃ the mean's
   * divisor (the realized contributions under fixed-size selection, as the mean's; q·N under Poisson selection),
   * and the geometric step C_{t+1} = C_t·exp(−η_C·(b̄_t − γ)). Post-processing of the round's release. Unlike
   * the paper, b̄ is clamped to [0, 1]: a noisy estimate outside it says nothing more about the quantile, and
   * the clamp bounds each step by e^{η_C·max(γ, 1 − γ)}.
   */
  private adaptClip(r: Extract<EngineCommand, { kind: 'released' }>): { fraction: number; clip: number } | null {
    const a = this.config.ddg.adaptiveClip;
    if (this.clip === null || !a || r.clipCount === null) return null;
    const raw = clipCountFraction(r.clipCount, releasedMeanDivisor(this.config) ?? r.contributions, this.setup.plan.clipCount?.countScale ?? 1);
    const fraction = Math.min(1, Math.max(0, raw));
    return { fraction, clip: this.clip * Math.exp(-a.learningRate * (fraction - a.targetQuantile)) };
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
      optimizerState: optimizerStateBytes(this.server.optimizerState),
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
    // The persisted state this engine was set up from must be the one the snapshot's round stepped from: a
    // checkpoint behind the leader's would release this round onto another model or optimizer state.
    if (!bytesEqual(s.engine.setup.weights, vectorBytes(this.server.weights)))
      throw new Error(`the snapshot's round ${s.round} was sent another global model than this engine holds (a stale checkpoint?)`);
    if ((s.engine.setup.adaptiveClip?.clip ?? null) !== this.clip)
      throw new Error(
        `the snapshot's round ${s.round} clips at ${s.engine.setup.adaptiveClip?.clip ?? 'a fixed norm'}; this engine at ${this.clip ?? 'a fixed norm'} (a stale checkpoint?)`,
      );
    if (s.optimizerState) {
      const own = optimizerStateBytes(this.server.optimizerState);
      if (!bytesEqual(s.optimizerState.m, own.m) || !bytesEqual(s.optimizerState.v, own.v))
        throw new Error(`the snapshot's round ${s.round} steps from another server optimizer state than this engine holds (a stale checkpoint?)`);
    }
    const engine = await RoundEngine.restore(s.engine, this.deps.masks);
    const live: LiveRound = {
      engine,
      round: s.round,
      attempt: s.attempt,
      parties: s.engine.setup.parties,
      startedAt: s.startedAt,
      // The stage in progress counts from now: its timer restarts with the full deadline here, and the watchdog
      // must not measure it by the other process's clock.
      stageOpened: new Map([...s.stageOpened, [engine.stage as SecAggStage, this.deps.now()]]),
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

/** The run's privacy books from its persisted ledger (fresh for a new run). */
function privacyOf(setup: RunSetup): RunPrivacy {
  // Only for a ledger entry from before the coordinator-side ledger was kept in it (privacy.ts).
  const released = (setup.rounds ?? []).filter((r) => r.status === 'completed').map((r) => r.parties ?? r.contributions ?? 0);
  return setup.ledger || released.length ? RunPrivacy.restore(setup.plan, setup.ledger, released) : RunPrivacy.fresh(setup.plan);
}

/** The optimizer state as the bytes a snapshot carries (float32, little-endian). */
function optimizerStateBytes(s: FedOptState): { m: Uint8Array | null; v: Uint8Array | null } {
  return { m: s.m && vectorBytes(s.m), v: s.v && vectorBytes(s.v) };
}

function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function persist(what: PersistOp): RunCommand {
  return { kind: 'persist', what };
}

function log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown>): RunCommand {
  return { kind: 'log', level, message, fields };
}

/** `words` 32-bit words of `rw` as lowercase hex (ids and nonces). */
export function randomHex(rw: RandomWords, words: number): string {
  return Array.from({ length: words }, () => rw.next().toString(16).padStart(8, '0')).join('');
}

function randomBytes(rw: RandomWords, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i += 4) view.setUint32(i, rw.next(), true);
  return out;
}
