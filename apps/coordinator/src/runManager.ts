/**
 * The shell around the pure RunEngine (packages/engine): it feeds the engine events from the client gateway,
 * the operator API, its timers and the evaluation of released models, one at a time, and carries out the
 * commands the engine returns against sockets, timers, SQLite (runPersistence.ts), tfjs evaluation and the
 * in-process event feed. It holds no run logic: selection, rounds, FedAvg, accounting and retries are the
 * engine's. A failed engine step is logged at error level and reported to operators, never swallowed.
 */
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { cryptoRandomWords, type RandomWords } from '@hushfl/ddp';
import { NO_FEDOPT_STATE, randomHex, type RunCommand, RunEngine, type RunEvent, type RunSetup } from '@hushfl/engine';
import type { Forecast, Report, RunConfig, Status } from '@hushfl/protocol';
import type { MaskApplier, SecAggClientMessage } from '@hushfl/secagg';
import { ModelEvaluator } from './evaluation.ts';
import { MaskPool } from './unmask/maskPool.ts';
import { forecastRun } from './forecastRun.ts';
import { dimRefusal, prepareRun } from './prepareRun.ts';
import { lastRunStatus, metricsPath, persistRunOp, reopenRun, takeInterruptedRun } from './runPersistence.ts';
import { runStep } from './carryOut.ts';
import { SerialQueue } from './serialQueue.ts';
import { FencedError, type Store } from './store.ts';
import type { ClientConnection, CoordinatorEvent, Logger } from './shellTypes.ts';
import { TaskCache, type RunData } from './taskCache.ts';

export type { ClientConnection, CoordinatorEvent, Logger, RoundSummary } from './shellTypes.ts';

/** How often the engine is told the time (its watchdog and waiting selection). */
const TICK_MS = 1_000;

interface ActiveRun {
  readonly engine: RunEngine;
  readonly data: RunData;
  readonly evaluator: ModelEvaluator;
  readonly queue: SerialQueue;
  readonly timers: Map<string, NodeJS.Timeout>;
  readonly ticker: NodeJS.Timeout;
  evaluating: Promise<void> | null;
  /** Dropped by abandon(): commands of steps still queued are not carried out. */
  abandoned: boolean;
  readonly ended: Promise<void>;
  end(): void;
}

export class RunManager extends EventEmitter {
  private readonly roster = new Map<string, ClientConnection>();
  private active: ActiveRun | null = null;
  private readonly tasks = new TaskCache();
  private readonly rng: RandomWords = cryptoRandomWords();
  /** Demo devices the shell runs beside the coordinator (`hushfl start --demo-devices`), shown to operators. */
  simulatedDevices = 0;
  /** Unmasking on worker threads (unmask/maskPool.ts): one pool for the coordinator's life. */
  readonly maskPool = new MaskPool();
  /** What unmasks the rounds: this node's threads, or on a cluster every node's (useMasks). */
  private masks: MaskApplier = this.maskPool;
  /** Between runs: the last run's final status (read from the store by load(), kept as runs end). */
  private idle: Status = { runId: null, state: 'idle', round: 0, rounds: 0, epsilon: null, epsilonBudget: null, delta: null, clientsConnected: 0 };

  constructor(
    private readonly store: Store,
    private readonly metricsDir: string,
    private readonly log: Logger,
    /** The largest padded DDG dimension the client sockets take (app.ts sizes their buffers by it). */
    private readonly maxDimPadded = Number.POSITIVE_INFINITY,
  ) {
    super();
    this.setMaxListeners(100);
  }

  /** Unmask the runs started from here with `masks` (a cluster's nodes: unmask/clusterMasks.ts). */
  useMasks(masks: MaskApplier): void {
    this.masks = masks;
  }

  private emitEvent(e: CoordinatorEvent): void {
    this.emit('event', e);
  }

  clientConnected(c: ClientConnection): void {
    this.roster.set(c.clientId, c);
    this.emitEvent({ type: 'clients', connected: this.roster.size });
    // Only a client holding the run's data is selectable; the gateway tells the others to rejoin for it.
    if (this.active) {
      if (c.dataKey === this.active.data.key) void this.dispatch({ type: 'client-ready', clientId: c.clientId, miniClients: c.miniClients });
    } else c.send('status', this.status(c.clientId));
  }

  clientDisconnected(clientId: string): void {
    this.roster.delete(clientId);
    this.emitEvent({ type: 'clients', connected: this.roster.size });
    if (this.active) void this.dispatch({ type: 'client-disconnected', clientId });
  }

  get connectedCount(): number {
    return this.roster.size;
  }

  /** A SecAgg message from a client: resolves, once the round has handled it, to null (taken) or why it was refused. */
  async onSecAgg(clientId: string, roundId: string, message: SecAggClientMessage, bytes: number): Promise<string | null> {
    // Refusals are logged by the gateway, in rate-limited summaries.
    if (!this.active) return `round ${roundId} is not in progress`;
    const commands = await this.dispatch({ type: 'secagg', clientId, roundId, message, bytes });
    const refused = commands.find((c) => c.kind === 'refused' && c.clientId === clientId);
    return refused?.kind === 'refused' ? refused.reason : null;
  }

  /** A client echoed a liveness probe. */
  onLiveness(clientId: string, nonce: string): void {
    if (this.active) void this.dispatch({ type: 'liveness', clientId, nonce });
  }

  onReport(clientId: string, report: Report): void {
    this.emitEvent({ type: 'progress', clientId, report });
    if (report.phase === 'failed') this.log.warn({ clientId, roundId: report.roundId, error: report.error }, 'client reported a failure');
  }

  /** The data clients train on: the active run's, else the default task's demo. */
  currentData(): RunData {
    return this.active?.data ?? this.tasks.of();
  }

  /** The data of a run's config (a cluster node that does not lead serves the leader's run's shards). */
  dataFor(config: RunConfig): RunData {
    return this.tasks.of(config);
  }

  /**
   * This node no longer leads (a cluster's lease was lost): the active run is dropped without another write,
   * its clients forgotten — the node that leads now resumes it from the store, and clients are announced to it.
   */
  abandon(): void {
    const run = this.active;
    this.roster.clear();
    if (!run) return;
    run.abandoned = true;
    stopClocks(run);
    run.evaluator.dispose();
    this.active = null;
    run.end();
  }

  status(clientId?: string): Status {
    const s = this.active ? this.active.engine.status(clientId) : { ...this.idle, clientsConnected: this.roster.size };
    return clientId === undefined && this.simulatedDevices > 0 ? { ...s, simulatedDevices: this.simulatedDevices } : s;
  }

  forecast(config: RunConfig): Promise<Forecast> {
    return forecastRun(config, this.maxDimPadded);
  }

  /** Starts a run from a validated config. One run is active at a time. */
  async createRun(config: RunConfig): Promise<string> {
    if (this.active) throw new Error(`run ${this.active.engine.runId} is in progress: stop it before starting another`);
    const { evaluator, weights, plan } = await prepareRun(config, (c) => this.tasks.of(c).demo.test, this.maxDimPadded);
    const dim = weights.length;
    const id = `run-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${randomHex(this.rng, 3)}`;
    const createdAt = Date.now();
    await this.store.createRun({
      id,
      name: config.name,
      config: JSON.stringify(config),
      state: 'running',
      created_at: createdAt,
      dim,
      ddg: JSON.stringify(plan),
    });
    await this.store.saveInitialCheckpoint(id, weights);
    this.log.info({ runId: id, dim, ddg: plan.params, epsilonBudget: plan.epsilonBudget }, 'run created');
    this.activate({ run: { id, name: config.name, createdAt, dim }, config, plan, weights, optimizerState: NO_FEDOPT_STATE, completedRound: -1 }, evaluator);
    return id;
  }

  /** Reads what status() reports between runs from the store (once, before clients connect). */
  async load(): Promise<void> {
    this.idle = await lastRunStatus(this.store, 0);
  }

  /** After a restart: resume the run that was running, from its last completed round. */
  async resumeInterrupted(): Promise<string[]> {
    const setup = this.active ? null : await takeInterruptedRun(this.store, this.log);
    if (setup) this.activate(setup);
    return setup ? [setup.run.id] : [];
  }

  private activate(setup: Omit<RunSetup, 'clients'>, evaluator?: ModelEvaluator): void {
    // Created under a larger --max-model-dim: its masked vectors would not reach this coordinator.
    const tooBig = dimRefusal(setup.plan, setup.run.dim, this.maxDimPadded);
    if (tooBig) throw new Error(`run ${setup.run.id} cannot resume: ${tooBig}`);
    const data = this.tasks.of(setup.config);
    const roster = [...this.roster.values()];
    const clients = roster.filter((c) => c.dataKey === data.key).map((c) => ({ clientId: c.clientId, miniClients: c.miniClients }));
    const engine = new RunEngine({ ...setup, clients }, { now: Date.now, random: this.rng, seeds: cryptoRandomWords(), masks: this.masks });
    let end = () => {};
    const ended = new Promise<void>((resolve) => (end = resolve));
    this.active = {
      engine,
      data,
      evaluator: evaluator ?? new ModelEvaluator(setup.config.task, data.demo.test),
      queue: new SerialQueue(),
      timers: new Map(),
      ticker: setInterval(() => void this.dispatch({ type: 'tick' }), TICK_MS).unref(),
      evaluating: null,
      abandoned: false,
      ended,
      end,
    };
    this.emitEvent({ type: 'run', runId: setup.run.id, state: setup.paused ? 'paused' : 'running', reason: null });
    void this.dispatch({ type: 'start' });
  }

  pause = (runId: string): Promise<void> => this.operator(runId, 'pause');
  /** Resumes a paused run, or a failed or stopped one (reopenRun: refused, saying why, where that is not safe). */
  resume = async (runId: string): Promise<void> => {
    if (this.active?.engine.runId === runId) return this.operator(runId, 'resume');
    if (this.active) throw new Error(`run ${this.active.engine.runId} is in progress: stop it before resuming ${runId}`);
    const setup = await reopenRun(this.store, runId);
    this.log.info({ runId, fromRound: setup.completedRound + 1 }, 'run resumed by the operator');
    this.activate(setup);
  };
  stop = (runId: string, reason = 'stopped by the operator'): Promise<void> => this.operator(runId, 'stop', reason);

  private async operator(runId: string, command: 'pause' | 'resume' | 'stop', reason?: string): Promise<void> {
    if (!this.active || this.active.engine.runId !== runId || this.active.engine.isEnded) throw new Error(`run ${runId} is not active`);
    await this.dispatch({ type: 'operator', command, ...(reason ? { reason } : {}) });
  }

  activeRunId(): string | null {
    return this.active?.engine.runId ?? null;
  }

  /** Resolves when the active run (if any) ends. */
  async whenIdle(): Promise<void> {
    await this.active?.ended;
  }

  metricsPath(runId: string): string {
    return metricsPath(this.metricsDir, runId);
  }

  async metricsDocument(runId: string): Promise<Buffer | null> {
    try {
      return await readFile(this.metricsPath(runId));
    } catch {
      return null;
    }
  }

  /** Latest global weights of a run (the active one from memory, others from their checkpoint). */
  async latestModel(runId: string): Promise<{ round: number; weights: Float32Array } | undefined> {
    const e = this.active?.engine;
    if (e?.runId === runId) return { round: e.lastCompletedRound, weights: e.weights };
    const c = await this.store.latestCheckpoint(runId);
    return c && { round: c.round, weights: c.weights };
  }

  /** One engine step, in arrival order; its commands are carried out before the next step. Failures are logged and rethrown. */
  private dispatch(event: RunEvent): Promise<RunCommand[]> {
    const run = this.active;
    if (!run) return Promise.resolve([]);
    const step = run.queue.run(() =>
      runStep(
        run.engine,
        event,
        (c) => this.execute(run, c),
        (e, op) => this.storeFailed(run, e, op),
      ),
    );
    step.catch((e: Error) => {
      this.log.error({ runId: run.engine.runId, event: event.type, err: e.stack }, 'run engine step failed');
      this.emitEvent({ type: 'log', level: 'error', message: `run engine step (${event.type}) failed: ${e.message}` });
    });
    return step;
  }

  private storeFailed(run: ActiveRun, e: Error, op: string): void {
    if (e instanceof FencedError) {
      // Another node took the run over while this one stalled: this write and the step's sends and releases
      // after it did not happen, and nothing more will be (its lease, when next renewed, says the same).
      this.log.warn({ runId: run.engine.runId, op, err: e.message }, 'deposed: another node leads the run now; this node drops it');
      if (this.active === run) this.abandon();
      return;
    }
    this.log.error({ runId: run.engine.runId, op, err: e.message }, 'store write failed');
    this.emitEvent({ type: 'log', level: 'error', message: `store write failed: ${e.message}` });
  }

  private async execute(run: ActiveRun, c: RunCommand): Promise<void> {
    if (run.abandoned) return;
    switch (c.kind) {
      case 'send':
        this.roster.get(c.to)?.send(c.event, c.payload);
        break;
      case 'start-timer': {
        clearTimeout(run.timers.get(c.key));
        const t = setTimeout(() => {
          run.timers.delete(c.key);
          void this.dispatch({ type: 'timer', key: c.key });
        }, c.ms);
        run.timers.set(c.key, t);
        break;
      }
      case 'cancel-timer':
        clearTimeout(run.timers.get(c.key));
        run.timers.delete(c.key);
        break;
      case 'persist':
        await persistRunOp(this.store, this.metricsDir, run.engine.runId, c.what);
        break;
      case 'evaluate':
        // Settles once the engine has handled the answer (close() waits for it).
        run.evaluating = run.evaluator
          .evaluated(c.round, c.weights)
          .then((e) => this.dispatch(e))
          .then(ignore, ignore);
        break;
      case 'release':
        this.emitEvent({ type: 'round', ...c.summary, mean: c.mean, included: c.included });
        break;
      case 'notify':
        this.emitEvent(c.notice);
        break;
      case 'refused': // answered to the sender by onSecAgg
        break;
      case 'log':
        this.log[c.level](c.fields, c.message);
        break;
      case 'end':
        stopClocks(run);
        run.evaluator.dispose();
        this.ended(run);
        break;
    }
  }

  async close(): Promise<void> {
    await this.closeRun();
    await this.maskPool.close();
  }

  private async closeRun(): Promise<void> {
    const run = this.active;
    if (!run) return;
    // Shutdown first: the round in progress is aborted and nothing new starts; then an evaluation in flight
    // commits its round (the engine starts no next one while shutting down).
    await this.dispatch({ type: 'shutdown' }).catch(() => undefined);
    await run.evaluating;
    stopClocks(run);
    run.evaluator.dispose();
    this.ended(run);
  }

  /** A run ended: status() reports its final state (the store's view replaces it once read), and waiters go on. */
  private ended(run: ActiveRun): void {
    if (this.active === run) {
      this.idle = run.engine.status();
      this.active = null;
      void lastRunStatus(this.store, 0).then(
        (s) => {
          if (!this.active) this.idle = s;
        },
        () => undefined,
      );
    }
    run.end();
  }
}

const ignore = (): void => undefined;

function stopClocks(run: ActiveRun): void {
  clearInterval(run.ticker);
  for (const t of run.timers.values()) clearTimeout(t);
  run.timers.clear();
}
