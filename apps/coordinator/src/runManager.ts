/**
 * Drives federated runs: selects clients, runs each round through the pure RoundEngine (SecAgg+ with stage
 * deadlines, dropout handling, DDG decoding), applies the released mean to the global model (FedAvg with
 * server learning rate and momentum), evaluates it on the held-out split, updates the privacy ledger with
 * packages/ddp's accountant, persists everything to SQLite and writes server_metrics.json.
 *
 * It never sees a plaintext update: the only update-derived input is the unmasked modular sum inside the
 * engine, decoded into the mean. A round with fewer than n_min contributions is aborted and re-run.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RdpLedger, cryptoRandomWords, type RandomWords } from '@hushfl/ddp';
import { buildModel, evaluate, getFlatWeights, modelDimension, setFlatWeights, shuffleInPlace } from '@hushfl/client';
import {
  EVENTS,
  RoundEngine,
  pack,
  expectedClientsPerRound,
  defaultMaxShortfall,
  planDdg,
  poissonShortfallProbability,
  roundRdp,
  roundRdpAgainstCoordinator,
  selectionDelta,
  type DdgPlan,
  type EngineCommand,
  type Party,
  type Report,
  type RunConfig,
  type Status,
} from '@hushfl/protocol';
import type { SecAggClientMessage, SecAggStage } from '@hushfl/secagg';
import type * as tfl from '@tensorflow/tfjs-layers';
import { MnistTask } from './mnist.ts';
import { SerialQueue } from './serialQueue.ts';
import type { RunRow, Store } from './store.ts';

export interface ClientConnection {
  readonly clientId: string;
  readonly miniClients: number;
  send(event: string, payload: unknown): void;
}

export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

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
  contributors: number;
  selected: number;
  dropped: Partial<Record<SecAggStage, number>>;
  droppedClients: Record<string, SecAggStage>;
  durationsMs: Partial<Record<SecAggStage, number>>;
  bytesUp: number;
  bytesDown: number;
  error: string | null;
  /** The released mean update (only for in-process observers such as `hushfl simulate`; never sent out). */
  mean?: Float64Array;
  included?: readonly string[];
}

export type CoordinatorEvent =
  | { type: 'run'; runId: string; state: RunRow['state']; reason: string | null }
  | { type: 'round-start'; runId: string; round: number; attempt: number; selected: string[] }
  | { type: 'stage'; runId: string; round: number; attempt: number; stage: SecAggStage; phase: 'open' | 'closed'; dropped: string[]; durationMs?: number }
  | ({ type: 'round' } & RoundSummary)
  | { type: 'clients'; connected: number }
  | { type: 'progress'; clientId: string; report: Report }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };

const STAGE_DEADLINE_FIELD: Record<SecAggStage, keyof RunConfig['deadlines']> = {
  'advertise-keys': 'training',
  'share-keys': 'shareKeys',
  'masked-input': 'maskedInput',
  'consistency-check': 'consistencyCheck',
  unmasking: 'unmasking',
};

interface LiveRound {
  readonly engine: RoundEngine;
  readonly queue: SerialQueue;
  readonly timers: Map<string, NodeJS.Timeout>;
  readonly parties: readonly Party[];
  readonly round: number;
  readonly attempt: number;
  readonly stageOpened: Map<SecAggStage, number>;
  readonly durations: Partial<Record<SecAggStage, number>>;
  bytesUp: number;
  bytesDown: number;
  settle: (c: Extract<EngineCommand, { kind: 'released' | 'aborted' }>) => void;
}

interface ActiveRun {
  row: RunRow;
  readonly config: RunConfig;
  readonly plan: DdgPlan;
  readonly task: MnistTask;
  readonly model: tfl.Sequential;
  weights: Float32Array;
  momentum: Float32Array | null;
  readonly ledger: RdpLedger;
  /** The same rounds without sampling amplification: what the coordinator's view costs (roundRdpAgainstCoordinator). */
  readonly coordinatorLedger: RdpLedger;
  /** Σₜ pₜ over released rounds, and the current round's p (from its first Poisson draw; null before it). */
  selectionShortfall: number;
  roundShortfall: number | null;
  lastShortfallLog: number;
  live: LiveRound | null;
  stopRequested: string | null;
  paused: boolean;
  wake: () => void;
  loop?: Promise<void>;
  history: RoundSummary[];
  epsilon: number | null;
}

export class RunManager extends EventEmitter {
  private readonly roster = new Map<string, ClientConnection>();
  private readonly busy = new Set<string>();
  private active: ActiveRun | null = null;
  private readonly tasks = new Map<string, MnistTask>();
  private readonly rng: RandomWords = cryptoRandomWords();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly metricsDir: string,
    private readonly log: Logger,
  ) {
    super();
    this.setMaxListeners(100);
  }

  private emitEvent(e: CoordinatorEvent): void {
    this.emit('event', e);
  }

  // ---------------------------------------------------------------- clients

  clientConnected(c: ClientConnection): void {
    this.roster.set(c.clientId, c);
    this.emitEvent({ type: 'clients', connected: this.roster.size });
    this.active?.wake();
    c.send(EVENTS.status, this.status(c.clientId));
    // A party of the round in progress came back (a reloaded tab): repeat what it may have missed.
    const live = this.active?.live;
    if (live && live.engine.secaggIdOf(c.clientId) !== undefined) {
      void live.queue.run(async () => this.execute(live, live.engine.onReconnect(c.clientId)));
    }
  }

  clientDisconnected(clientId: string): void {
    this.roster.delete(clientId);
    this.emitEvent({ type: 'clients', connected: this.roster.size });
    const live = this.active?.live;
    if (live && live.engine.secaggIdOf(clientId) !== undefined) {
      void live.queue.run(async () => this.execute(live, await live.engine.onDisconnect(clientId)));
    }
  }

  get connectedCount(): number {
    return this.roster.size;
  }

  /**
   * A SecAgg message from a client; refused messages are logged with their reason. Resolves, once the round
   * has handled it, to null (taken) or the reason it was refused.
   */
  async onSecAgg(clientId: string, roundId: string, message: SecAggClientMessage, bytes: number): Promise<string | null> {
    const live = this.active?.live;
    if (!live || live.engine.roundId !== roundId) {
      this.log.warn({ clientId, roundId }, 'dropped a SecAgg message for a round that is not in progress (late or replayed)');
      return `round ${roundId} is not in progress`;
    }
    live.bytesUp += bytes;
    return live.queue.run(async () => {
      const commands = await live.engine.onSecAgg(clientId, message);
      this.execute(live, commands);
      const refused = commands.find((c) => c.kind === 'refused' && c.clientId === clientId);
      return refused && refused.kind === 'refused' ? refused.reason : null;
    });
  }

  onReport(clientId: string, report: Report): void {
    this.emitEvent({ type: 'progress', clientId, report });
    if (report.phase === 'failed') this.log.warn({ clientId, roundId: report.roundId, error: report.error }, 'client reported a failure');
  }

  /** The task data clients train on: the active run's, else the default task's. */
  currentTask(): MnistTask {
    if (this.active) return this.active.task;
    return this.taskFor({ name: 'mnist', model: { kind: 'mlp', hidden: [64] }, partition: { kind: 'iid' }, shards: 100, testExamples: 1000, seed: 1 });
  }

  private taskFor(task: RunConfig['task']): MnistTask {
    const key = JSON.stringify({ partition: task.partition, shards: task.shards, testExamples: task.testExamples, seed: task.seed });
    let t = this.tasks.get(key);
    if (!t) {
      t = new MnistTask(task);
      this.tasks.set(key, t);
    }
    return t;
  }

  status(clientId?: string): Status {
    const a = this.active;
    if (!a) {
      // Between runs, report the most recent one (its final state, round and ε).
      const last = this.store.runs()[0];
      if (!last)
        return { runId: null, state: 'idle', round: 0, rounds: 0, epsilon: null, epsilonBudget: null, delta: null, clientsConnected: this.roster.size };
      const cfg = JSON.parse(last.config) as RunConfig;
      const plan = JSON.parse(last.ddg) as DdgPlan;
      return {
        runId: last.id,
        state: last.state === 'running' || last.state === 'paused' ? 'stopped' : last.state,
        round: last.completed_round + 1,
        rounds: cfg.rounds,
        epsilon: this.store.latestLedger(last.id)?.epsilon ?? null,
        epsilonBudget: plan.epsilonBudget,
        delta: plan.delta,
        clientsConnected: this.roster.size,
        ...(last.reason ? { message: last.reason } : {}),
      };
    }
    const live = a.live;
    return {
      runId: a.row.id,
      state: a.paused ? 'paused' : live ? 'running' : 'waiting',
      round: live?.round ?? a.row.completed_round + 1,
      rounds: a.config.rounds,
      epsilon: a.epsilon,
      epsilonBudget: a.plan.epsilonBudget,
      delta: a.plan.delta,
      clientsConnected: this.roster.size,
      ...(clientId && live ? { selected: live.engine.secaggIdOf(clientId) !== undefined } : {}),
    };
  }

  private broadcastStatus(): void {
    for (const c of this.roster.values()) c.send(EVENTS.status, this.status(c.clientId));
  }

  // ---------------------------------------------------------------- runs

  /** Starts a run from a validated config. One run is active at a time. */
  async createRun(config: RunConfig): Promise<string> {
    if (this.active) throw new Error(`run ${this.active.row.id} is in progress: stop it before starting another`);
    const dim = modelDimension(config.task.model);
    const plan = planDdg(config, dim);
    const id = `run-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${hex(this.rng, 3)}`;
    const model = buildModel(config.task.model);
    const weights = await getFlatWeights(model);
    this.store.createRun({ id, name: config.name, config: JSON.stringify(config), state: 'running', created_at: Date.now(), dim, ddg: JSON.stringify(plan) });
    this.store.saveInitialCheckpoint(id, weights);
    this.log.info({ runId: id, dim, ddg: plan.params, epsilonBudget: plan.epsilonBudget }, 'run created');
    this.activate(this.store.run(id)!, config, plan, model, weights, null, {
      ledger: new RdpLedger(),
      coordinatorLedger: new RdpLedger(),
      selectionShortfall: 0,
    });
    return id;
  }

  /** After a restart: resume every run that was running, from its last completed round. */
  resumeInterrupted(): string[] {
    const resumed: string[] = [];
    for (const row of this.store.activeRuns()) {
      if (this.active) {
        this.store.setRunState(row.id, 'stopped', 'another run was resumed first');
        continue;
      }
      const aborted = this.store.abortInterrupted(row.id, 'coordinator restarted during the round; it is re-run');
      if (aborted) this.log.warn({ runId: row.id, aborted }, 'aborted the round interrupted by the restart; it will be re-run');
      const config = JSON.parse(row.config) as RunConfig;
      const plan = JSON.parse(row.ddg) as DdgPlan;
      const ckpt = this.store.latestCheckpoint(row.id)!;
      const ledgerRow = this.store.latestLedger(row.id);
      const ledger = ledgerRow ? new RdpLedger(ledgerRow.rdp, ledgerRow.round + 1) : new RdpLedger();
      // The coordinator-side ledger is a function of the released rounds' contributions: rebuild it.
      const coordinatorLedger = new RdpLedger();
      for (const r of this.store.rounds(row.id)) {
        const rdp = r.state === 'completed' ? roundRdpAgainstCoordinator(plan, r.contributions!) : null;
        if (rdp) coordinatorLedger.add(rdp);
      }
      const model = buildModel(config.task.model);
      this.activate(
        row,
        config,
        plan,
        model,
        ckpt.weights,
        ckpt.momentum,
        { ledger, coordinatorLedger, selectionShortfall: ledgerRow?.selectionShortfall ?? 0 },
        ledgerRow?.epsilon ?? null,
      );
      if (row.state === 'paused') this.active!.paused = true;
      resumed.push(row.id);
      this.log.info({ runId: row.id, fromRound: row.completed_round + 1 }, 'run resumed');
    }
    return resumed;
  }

  private activate(
    row: RunRow,
    config: RunConfig,
    plan: DdgPlan,
    model: tfl.Sequential,
    weights: Float32Array,
    momentum: Float32Array | null,
    privacy: { ledger: RdpLedger; coordinatorLedger: RdpLedger; selectionShortfall: number },
    epsilon: number | null = null,
  ): void {
    let wake = () => {};
    const run: ActiveRun = {
      row,
      config,
      plan,
      task: this.taskFor(config.task),
      model,
      weights,
      momentum,
      ...privacy,
      roundShortfall: null,
      lastShortfallLog: 0,
      live: null,
      stopRequested: null,
      paused: false,
      wake: () => wake(),
      history: [],
      epsilon,
    };
    run.wake = () => wake();
    this.active = run;
    const waitForWake = (ms: number) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    run.loop = this.runLoop(run, waitForWake).catch((e) => {
      this.log.error({ runId: run.row.id, err: (e as Error).stack }, 'run failed');
      this.finishRun(run, 'failed', (e as Error).message);
    });
    this.emitEvent({ type: 'run', runId: row.id, state: 'running', reason: null });
  }

  pause(runId: string): void {
    const run = this.requireActive(runId);
    run.paused = true;
    this.store.setRunState(runId, 'paused');
    this.emitEvent({ type: 'run', runId, state: 'paused', reason: null });
    this.broadcastStatus();
  }

  resume(runId: string): void {
    const run = this.requireActive(runId);
    run.paused = false;
    this.store.setRunState(runId, 'running');
    this.emitEvent({ type: 'run', runId, state: 'running', reason: null });
    run.wake();
    this.broadcastStatus();
  }

  stop(runId: string, reason = 'stopped by the operator'): void {
    const run = this.requireActive(runId);
    run.stopRequested = reason;
    const live = run.live;
    if (live) void live.queue.run(async () => this.execute(live, live.engine.abort(reason)));
    run.wake();
  }

  private requireActive(runId: string): ActiveRun {
    if (!this.active || this.active.row.id !== runId) throw new Error(`run ${runId} is not active`);
    return this.active;
  }

  activeRunId(): string | null {
    return this.active?.row.id ?? null;
  }

  /** Resolves when the active run (if any) ends. */
  async whenIdle(): Promise<void> {
    await this.active?.loop;
  }

  private finishRun(run: ActiveRun, state: 'completed' | 'stopped' | 'failed', reason: string | null): void {
    this.store.setRunState(run.row.id, state, reason);
    this.writeMetrics(run);
    this.log.info({ runId: run.row.id, state, reason }, 'run finished');
    if (this.active === run) this.active = null;
    run.model.dispose();
    this.emitEvent({ type: 'run', runId: run.row.id, state, reason });
    this.broadcastStatus();
  }

  private async runLoop(run: ActiveRun, wait: (ms: number) => Promise<void>): Promise<void> {
    const cfg = run.config;
    let round = run.row.completed_round + 1;
    while (round < cfg.rounds) {
      if (this.closed) return;
      if (run.stopRequested) return this.finishRun(run, 'stopped', run.stopRequested);
      if (run.paused) {
        await wait(1000);
        continue;
      }
      // Stop before a round that could push ε past the budget even at n_min contributions.
      const worst = roundRdp(run.plan, cfg.minClients);
      if (worst && run.plan.epsilonBudget !== null) {
        const next = run.ledger.spentIfAdded(worst, run.plan.delta).epsilon;
        if (next > run.plan.epsilonBudget * (1 + 1e-6)) {
          return this.finishRun(run, 'completed', `privacy budget reached: another round could spend ε = ${next.toFixed(4)} > ${run.plan.epsilonBudget}`);
        }
      }
      const parties = this.selectParties(run);
      if (!parties) {
        await wait(500);
        continue;
      }
      const attempt = this.store.lastAttempt(run.row.id, round) + 1;
      if (attempt > cfg.maxAttempts) return this.finishRun(run, 'failed', `round ${round} aborted ${cfg.maxAttempts} times`);
      const outcome = await this.runRound(run, round, attempt, parties);
      if (outcome === 'completed') round++;
      else if (!run.stopRequested && !this.closed) await wait(250);
    }
    this.finishRun(run, 'completed', `all ${cfg.rounds} rounds done`);
  }

  /** Random parties (CSPRNG) until the round's contributions are reached, or null when too few are free. */
  private selectParties(run: ActiveRun): Party[] | null {
    const cfg = run.config;
    const free = [...this.roster.values()]
      .filter((c) => !this.busy.has(c.clientId))
      .map((c) => ({ clientId: c.clientId, contributions: Math.min(c.miniClients, cfg.maxMiniClients) }));
    const available = free.reduce((s, p) => s + p.contributions, 0);
    if ('sampleRate' in cfg.selection) {
      if (run.roundShortfall === null) {
        // Before the first draw of a round: the chance that it is too small and must be redrawn is what the
        // released round adds to δ (poissonSelection.ts), so draw only once enough clients are online.
        const shortfall = poissonShortfallProbability(
          free.map((p) => p.contributions),
          cfg.selection.sampleRate,
          cfg.minClients,
        );
        const limit = cfg.selection.maxShortfall ?? defaultMaxShortfall(run.plan.delta, cfg.rounds, run.plan.epsilonBudget);
        if (shortfall > limit) {
          const now = Date.now();
          if (now - run.lastShortfallLog > 30_000) {
            run.lastShortfallLog = now;
            this.log.info(
              { runId: run.row.id, clientsOnline: free.length, shortfall, maxShortfall: limit },
              'Poisson selection: waiting for more clients (a draw now would too likely be smaller than n_min)',
            );
          }
          return null;
        }
        run.roundShortfall = shortfall;
      }
      const threshold = cfg.selection.sampleRate * 4294967296;
      const picked = free.filter(() => this.rng.next() < threshold);
      const total = picked.reduce((s, p) => s + p.contributions, 0);
      return total >= cfg.minClients && picked.length >= 2 ? picked : null;
    }
    const want = expectedClientsPerRound(cfg);
    if (available < want || free.length < 2) return null;
    shuffleInPlace(free as unknown as number[], this.rng);
    const picked: Party[] = [];
    let total = 0;
    for (const p of free) {
      if (total >= want) break;
      picked.push(p);
      total += p.contributions;
    }
    return picked.length >= 2 ? picked : null;
  }

  private async runRound(run: ActiveRun, round: number, attempt: number, parties: Party[]): Promise<'completed' | 'aborted'> {
    const cfg = run.config;
    const deadlinesMs = Object.fromEntries(
      (Object.keys(STAGE_DEADLINE_FIELD) as SecAggStage[]).map((s) => [s, cfg.deadlines[STAGE_DEADLINE_FIELD[s]] * 1000]),
    ) as Record<SecAggStage, number>;
    const seeds = globalThis.crypto.getRandomValues(new Uint8Array(64));
    for (const p of parties) this.busy.add(p.clientId);
    this.store.startRound({ run_id: run.row.id, round, attempt, selected: parties.length });
    const { engine, commands } = await RoundEngine.start({
      runId: run.row.id,
      round,
      attempt,
      parties,
      modelSpec: cfg.task.model,
      weights: run.weights,
      training: cfg.training,
      dpsgd: cfg.dpsgd.enabled
        ? { clip: cfg.dpsgd.clip, noiseMultiplier: cfg.dpsgd.noiseMultiplier, sampling: cfg.dpsgd.sampling, delta: cfg.dpsgd.delta }
        : null,
      ddg: run.plan.params,
      secagg: cfg.secagg,
      deadlinesMs,
      minContributions: cfg.minClients,
      rotationSeed: seeds.slice(0, 32),
      graphSeed: seeds.slice(32),
    });
    this.store.addParticipants(
      parties.map((p) => ({
        run_id: run.row.id,
        round,
        attempt,
        client_id: p.clientId,
        secagg_id: engine.secaggIdOf(p.clientId)!,
        contributions: p.contributions,
      })),
    );
    this.log.info(
      { runId: run.row.id, round, attempt, parties: parties.length, contributions: parties.reduce((s, p) => s + p.contributions, 0) },
      'round started',
    );
    this.emitEvent({ type: 'round-start', runId: run.row.id, round, attempt, selected: parties.map((p) => p.clientId) });
    const outcome = await new Promise<Extract<EngineCommand, { kind: 'released' | 'aborted' }>>((settle) => {
      const live: LiveRound = {
        engine,
        queue: new SerialQueue(),
        timers: new Map(),
        parties,
        round,
        attempt,
        stageOpened: new Map(),
        durations: {},
        bytesUp: 0,
        bytesDown: 0,
        settle,
      };
      run.live = live;
      this.broadcastStatus();
      void live.queue.run(async () => this.execute(live, commands));
    });
    const live = run.live!;
    for (const t of live.timers.values()) clearTimeout(t);
    run.live = null;
    for (const p of parties) this.busy.delete(p.clientId);
    return outcome.kind === 'released' ? await this.completeRound(run, live, outcome) : this.abortRound(run, live, outcome);
  }

  /** Carries out the engine's commands (sockets, timers, bookkeeping). */
  private execute(live: LiveRound, commands: readonly EngineCommand[]): void {
    const run = this.active;
    for (const c of commands) {
      switch (c.kind) {
        case 'send': {
          const conn = this.roster.get(c.to);
          if (!conn) break;
          const packed = pack(c.payload);
          live.bytesDown += packed.json.length + packed.bin.length;
          conn.send(c.event, packed);
          break;
        }
        case 'timer': {
          const t = setTimeout(() => {
            live.timers.delete(c.key);
            void live.queue.run(async () => this.execute(live, await live.engine.onDeadline(c.key)));
          }, c.ms);
          live.timers.set(c.key, t);
          break;
        }
        case 'cancel-timer': {
          clearTimeout(live.timers.get(c.key));
          live.timers.delete(c.key);
          break;
        }
        case 'stage': {
          const now = Date.now();
          let durationMs: number | undefined;
          if (c.phase === 'open') live.stageOpened.set(c.stage, now);
          else {
            durationMs = now - (live.stageOpened.get(c.stage) ?? now);
            live.durations[c.stage] = durationMs;
          }
          if (run) {
            this.store.stageEvent({
              run_id: run.row.id,
              round: live.round,
              attempt: live.attempt,
              stage: c.stage,
              phase: c.phase,
              detail: { dropped: c.dropped, expected: c.expected },
            });
            this.emitEvent({
              type: 'stage',
              runId: run.row.id,
              round: live.round,
              attempt: live.attempt,
              stage: c.stage,
              phase: c.phase,
              dropped: [...c.dropped],
              ...(durationMs !== undefined ? { durationMs } : {}),
            });
          }
          if (c.dropped.length) this.log.info({ round: live.round, stage: c.stage, dropped: c.dropped }, 'clients dropped at this stage');
          break;
        }
        case 'refused':
          this.log.warn({ clientId: c.clientId, code: c.code, round: live.round }, `refused a SecAgg message: ${c.reason}`);
          break;
        case 'released':
        case 'aborted':
          live.settle(c);
          break;
      }
    }
  }

  private droppedCounts(droppedAt: Readonly<Record<string, SecAggStage>>): Partial<Record<SecAggStage, number>> {
    const out: Partial<Record<SecAggStage, number>> = {};
    for (const s of Object.values(droppedAt)) out[s] = (out[s] ?? 0) + 1;
    return out;
  }

  private async completeRound(run: ActiveRun, live: LiveRound, r: Extract<EngineCommand, { kind: 'released' }>): Promise<'completed'> {
    const cfg = run.config;
    // FedAvg with server momentum: m ← μ·m + mean, w ← w + η·m (the mean is unweighted, as DDG assumes).
    const d = run.weights.length;
    const next = new Float32Array(d);
    if (cfg.server.momentum > 0) run.momentum ??= new Float32Array(d);
    for (let i = 0; i < d; i++) {
      let step = r.mean[i]!;
      if (run.momentum) {
        run.momentum[i] = cfg.server.momentum * run.momentum[i]! + step;
        step = run.momentum[i]!;
      }
      next[i] = run.weights[i]! + cfg.server.learningRate * step;
    }
    run.weights = next;
    setFlatWeights(run.model, next);
    const { loss, accuracy } = await evaluate(run.model, run.task.test);
    const rdp = roundRdp(run.plan, r.contributions);
    if (rdp) run.ledger.add(rdp);
    const epsilon = rdp ? run.ledger.spent(run.plan.delta).epsilon : null;
    run.epsilon = epsilon;
    const coordinatorRdp = roundRdpAgainstCoordinator(run.plan, r.contributions);
    if (coordinatorRdp) run.coordinatorLedger.add(coordinatorRdp);
    run.selectionShortfall += run.roundShortfall ?? 0;
    run.roundShortfall = null;
    const { epsilonVsCoordinator, deltaSelection } = this.coordinatorSideSpent(run);
    const summary: RoundSummary = {
      runId: run.row.id,
      round: live.round,
      attempt: live.attempt,
      status: 'completed',
      accuracy,
      loss,
      epsilon,
      epsilonVsCoordinator,
      deltaSelection,
      contributors: r.contributions,
      selected: live.parties.length,
      dropped: this.droppedCounts(r.droppedAt),
      droppedClients: { ...r.droppedAt },
      durationsMs: { ...live.durations },
      bytesUp: live.bytesUp,
      bytesDown: live.bytesDown,
      error: null,
    };
    this.store.commitRound({
      round: {
        run_id: run.row.id,
        round: live.round,
        attempt: live.attempt,
        state: 'completed',
        contributions: r.contributions,
        accuracy,
        loss,
        epsilon,
        epsilon_coordinator: epsilonVsCoordinator,
        delta_selection: deltaSelection,
        durations: JSON.stringify(summary.durationsMs),
        dropped: JSON.stringify(summary.droppedClients),
        bytes_up: live.bytesUp,
        bytes_down: live.bytesDown,
      },
      ledger: rdp ? { rdp: run.ledger.rdp(), epsilon: epsilon!, selectionShortfall: run.selectionShortfall } : null,
      weights: next,
      momentum: run.momentum,
    });
    for (const p of live.parties) {
      const stage = r.droppedAt[p.clientId];
      const included = r.included.includes(p.clientId);
      this.store.setParticipant(run.row.id, live.round, live.attempt, p.clientId, included ? 'finished' : 'dropped', stage ?? null);
      this.roster.get(p.clientId)?.send(EVENTS.roundEnd, { roundId: live.engine.roundId, round: live.round, status: 'completed', included, accuracy, epsilon });
    }
    run.row = { ...run.row, completed_round: live.round };
    run.history.push(summary);
    this.writeMetrics(run);
    this.log.info({ runId: run.row.id, round: live.round, accuracy, loss, epsilon, contributors: r.contributions }, 'round completed');
    this.emitEvent({ type: 'round', ...summary, mean: r.mean, included: r.included });
    this.broadcastStatus();
    return 'completed';
  }

  /** ε against the coordinator and δ's redraw term after the released rounds so far (PRIVACY.md). */
  private coordinatorSideSpent(run: ActiveRun): Pick<RoundSummary, 'epsilonVsCoordinator' | 'deltaSelection'> {
    return {
      epsilonVsCoordinator: run.coordinatorLedger.rounds > 0 ? run.coordinatorLedger.spent(run.plan.delta).epsilon : null,
      deltaSelection: run.epsilon === null ? 0 : selectionDelta(run.selectionShortfall, run.epsilon),
    };
  }

  private abortRound(run: ActiveRun, live: LiveRound, r: Extract<EngineCommand, { kind: 'aborted' }>): 'aborted' {
    const summary: RoundSummary = {
      runId: run.row.id,
      round: live.round,
      attempt: live.attempt,
      status: 'aborted',
      accuracy: null,
      loss: null,
      epsilon: run.epsilon,
      ...this.coordinatorSideSpent(run),
      contributors: 0,
      selected: live.parties.length,
      dropped: this.droppedCounts(r.droppedAt),
      droppedClients: { ...r.droppedAt },
      durationsMs: { ...live.durations },
      bytesUp: live.bytesUp,
      bytesDown: live.bytesDown,
      error: r.reason,
    };
    this.store.finishRound({
      run_id: run.row.id,
      round: live.round,
      attempt: live.attempt,
      state: 'aborted',
      error: r.reason,
      durations: JSON.stringify(summary.durationsMs),
      dropped: JSON.stringify(summary.droppedClients),
      bytes_up: live.bytesUp,
      bytes_down: live.bytesDown,
    });
    for (const p of live.parties) {
      this.store.setParticipant(run.row.id, live.round, live.attempt, p.clientId, 'dropped', r.droppedAt[p.clientId] ?? null);
      this.roster
        .get(p.clientId)
        ?.send(EVENTS.roundEnd, { roundId: live.engine.roundId, round: live.round, status: 'aborted', included: false, reason: r.reason });
    }
    run.history.push(summary);
    this.writeMetrics(run);
    this.log.warn({ runId: run.row.id, round: live.round, attempt: live.attempt, code: r.code, reason: r.reason }, 'round aborted; it will be re-run');
    this.emitEvent({ type: 'round', ...summary });
    return 'aborted';
  }

  metricsPath(runId: string): string {
    return join(this.metricsDir, runId, 'server_metrics.json');
  }

  /** server_metrics.json: the privacy hyperparameters, the model dimension and every round attempt. */
  private writeMetrics(run: ActiveRun): void {
    const rows = this.store.rounds(run.row.id);
    const doc = {
      run: { id: run.row.id, name: run.config.name, createdAt: new Date(run.row.created_at).toISOString(), state: this.store.run(run.row.id)?.state },
      model: { spec: run.config.task.model, dim: run.row.dim, dimPadded: run.plan.dimPadded },
      privacy: {
        mechanism: run.plan.params.localStddev > 0 ? 'ddg' : 'none',
        bits: run.plan.params.bits,
        clip: run.plan.params.clip,
        gamma: run.plan.params.gamma,
        localStddev: run.plan.params.localStddev,
        beta: run.plan.params.beta,
        kStddevs: run.config.ddg.kStddevs,
        delta: run.plan.delta,
        epsilonBudget: run.plan.epsilonBudget,
        minClients: run.config.minClients,
        clientsPerRound: expectedClientsPerRound(run.config),
        sampleRate: run.plan.sampleRate,
        rounds: run.config.rounds,
        dpsgd: run.config.dpsgd.enabled ? run.config.dpsgd : null,
        // rounds[].epsilon holds for everyone who sees only the models (amplified when sampleRate < 1);
        // rounds[].epsilonVsCoordinator for the coordinator, which knows the sample; with Poisson selection the
        // guarantee's δ is delta + rounds[].deltaSelection (docs/PRIVACY.md).
        selectionShortfall: run.selectionShortfall,
      },
      config: run.config,
      rounds: rows.map((r) => {
        const dropped = JSON.parse(r.dropped) as Record<string, SecAggStage>;
        const counts: Record<string, number> = {};
        for (const s of Object.values(dropped)) counts[s] = (counts[s] ?? 0) + 1;
        return {
          round: r.round,
          attempt: r.attempt,
          status: r.state,
          accuracy: r.accuracy,
          loss: r.loss,
          epsilon: r.epsilon,
          epsilonVsCoordinator: r.epsilon_coordinator,
          deltaSelection: r.delta_selection,
          contributors: r.contributions,
          selected: r.selected,
          dropped: counts,
          durationsMs: JSON.parse(r.durations),
          bytesUp: r.bytes_up,
          bytesDown: r.bytes_down,
          error: r.error,
        };
      }),
    };
    mkdirSync(join(this.metricsDir, run.row.id), { recursive: true });
    writeFileSync(this.metricsPath(run.row.id), `${JSON.stringify(doc, null, 2)}\n`);
  }

  /** Latest global weights of a run (the active one from memory, others from their checkpoint). */
  latestModel(runId: string): { round: number; weights: Float32Array } | undefined {
    if (this.active?.row.id === runId) return { round: this.active.row.completed_round, weights: this.active.weights };
    const c = this.store.latestCheckpoint(runId);
    return c && { round: c.round, weights: c.weights };
  }

  async close(): Promise<void> {
    this.closed = true;
    const run = this.active;
    if (run) {
      run.wake();
      const live = run.live;
      if (live) {
        for (const t of live.timers.values()) clearTimeout(t);
        live.settle({ kind: 'aborted', reason: 'coordinator shutting down', code: 'aborted', droppedAt: {} });
      }
      await run.loop;
    }
  }
}

function hex(rw: RandomWords, words: number): string {
  return Array.from({ length: words }, () => rw.next().toString(16).padStart(8, '0'))
    .join('')
    .slice(0, words * 8);
}
