/**
 * The client runtime: everything a selected client does in a round, with no sockets, DOM or files.
 * On a task it trains each of its mini-clients from the global weights on its own shard, DDG-encodes each
 * update (clip, rotate, round, add exact discrete Gaussian noise, reduce mod 2^B), sums the encodings in
 * Z_{2^B} — memory O(d), not O(k·d) — and runs the SecAgg client on that sum. The shell (a browser Worker or
 * a Node worker thread) wires it to the coordinator's socket through `RuntimeHost`.
 *
 * With federated evaluation (the task's `evaluation`, issue 14 §5) each mini-client's bounded metric sums —
 * the global model on its held-out split, its training on the rest — are appended to its update before the
 * encoding, which clips the update to √(c² − c_m²) and the metrics to c_m (@hushfl/ddp federatedMetrics.ts):
 * they reach the coordinator only inside the masked sum, with the DDG noise, never in a report.
 */
import {
  FEDERATED_METRICS,
  addClipCountInto,
  appendFederatedMetrics,
  clipFactor,
  clipToAdaptive,
  cryptoRandomWords,
  encodeDdg,
  l2Norm,
  nextPowerOfTwo,
  RdpLedger,
  rdpToEpsilon,
  modelUpdateClip,
} from '@hushfl/ddp';
import { decodeModelWeights, type TaskMessage } from '@hushfl/protocol';
import type { FailureStep, LocalReport } from './report.ts';
import {
  SecAggClient,
  addInPlace,
  checkSecAggParamsMeet,
  stageOpenedBy,
  type SecAggClientMessage,
  type SecAggClientSnapshot,
  type PkiClientOptions,
  type SecAggServerMessage,
  type SecAggStage,
} from '@hushfl/secagg';
import type { Trainer, TrainOutput } from './trainer.ts';

/** The in-flight round as the page stores it (IndexedDB), to continue after a reload. */
export interface PersistedRound {
  readonly task: TaskMessage;
  readonly record: RoundRecord;
  readonly secagg: SecAggClientSnapshot;
  /** The last SecAgg message sent, re-sent when the coordinator repeats its request after a reconnect. */
  readonly lastOutgoing: SecAggClientMessage | null;
}

/**
 * One mini-client's DP-SGD ledger in one run, as the page stores it (IndexedDB, keyed by run and mini-client),
 * so that after a reload ε continues from its true value instead of from zero.
 */
export interface PersistedDpsgdLedger {
  readonly runId: string;
  /** The mini-client's index (it trains on the client's shard of that index). */
  readonly miniClient: number;
  /** Cumulative RDP of its DP-SGD steps in the run, at the accountant's orders (RDP_ORDERS). */
  readonly rdp: readonly number[];
  /** Rounds it trained in. */
  readonly rounds: number;
}

export interface RuntimeHost {
  sendSecAgg(roundId: string, message: SecAggClientMessage): void;
  /** A report for the page; a host that forwards it to the coordinator sends `wireReport(report)`. */
  report(report: LocalReport): void;
  /** Stores (or, with null, clears) the in-flight round after every SecAgg step. */
  persistRound?(round: PersistedRound | null): Promise<void>;
  /** Stores the client's metrics after every round. */
  persistMetrics?(metrics: ClientMetrics): Promise<void>;
  /**
   * Stores the DP-SGD ledgers of the run's mini-clients once they have trained, before anything computed from
   * that training leaves the client (a failure fails the round: nothing unaccounted is sent).
   */
  persistDpsgdLedgers?(ledgers: readonly PersistedDpsgdLedger[]): Promise<void>;
  /**
   * Only `hushfl simulate` sets this: it already holds every simulated client's data and measures the DDG
   * error against the plain mean of the clipped updates. The coordinator never sees these.
   */
  onClippedUpdates?(roundId: string, clipped: readonly Float32Array[]): void;
  /**
   * Only the utility experiment sets this: it counts the modular wraps of the aggregate from the parties'
   * encoded inputs (d′ coordinates mod 2^B, before masking), all of which it runs itself. Never the coordinator.
   */
  onEncodedInput?(roundId: string, input: Uint32Array): void;
}

export interface RoundRecord {
  roundId: string;
  round: number;
  attempt: number;
  status: 'training' | 'secagg' | 'completed' | 'aborted' | 'failed';
  included?: boolean;
  trainLoss?: number;
  trainAccuracy?: number;
  examples?: number;
  steps?: number;
  trainMs?: number;
  encodeMs?: number;
  /**
   * Federated evaluation, this device's own (it stays here; the coordinator gets only the round's totals):
   * the global model's loss (per-example loss clipped to maxLoss) and accuracy on the held-out examples it counted.
   */
  heldOutLoss?: number;
  heldOutAccuracy?: number;
  heldOutExamples?: number;
  secaggMs: Partial<Record<SecAggStage, number>>;
  error?: string;
  globalAccuracy?: number;
}

export interface ClientMetrics {
  backend: string;
  miniClients: number;
  rounds: RoundRecord[];
  /** Instance-level ε of DP-SGD so far (worst mini-client), or null without DP-SGD. */
  dpsgdEpsilon: number | null;
  dpsgdDelta: number | null;
}

interface ActiveRound {
  readonly task: TaskMessage;
  secagg?: SecAggClient;
  record: RoundRecord;
  stageStarted: number;
  /** SecAgg messages that arrived before training finished. */
  readonly early: SecAggServerMessage[];
  lastOutgoing: SecAggClientMessage | null;
}

export interface ClientRuntimeOptions {
  /**
   * PKI mode (issue 12 §6): this client's enrolled identity and the authority key it pins. It comes from the
   * client's own configuration (an identity file, the page's setup), never from the coordinator.
   */
  readonly pki?: PkiClientOptions;
}

export class ClientRuntime {
  private active: ActiveRound | null = null;
  /** Each mini-client's DP-SGD ledger, per run. */
  private readonly ledgers = new Map<string, RdpLedger[]>();
  readonly metrics: ClientMetrics;

  constructor(
    private readonly trainer: Trainer,
    private readonly host: RuntimeHost,
    private readonly options: ClientRuntimeOptions = {},
  ) {
    this.metrics = { backend: trainer.backend, miniClients: trainer.miniClients, rounds: [], dpsgdEpsilon: null, dpsgdDelta: null };
  }

  get currentRoundId(): string | null {
    return this.active?.task.roundId ?? null;
  }

  /** Restores metrics kept from an earlier session (the page reloads them from IndexedDB). */
  restoreMetrics(m: ClientMetrics): void {
    this.metrics.rounds.push(...m.rounds.filter((r) => !this.metrics.rounds.some((x) => x.roundId === r.roundId)));
    this.metrics.dpsgdEpsilon = m.dpsgdEpsilon;
    this.metrics.dpsgdDelta = m.dpsgdDelta;
  }

  /** A round task: train, encode, sum, and open SecAgg. */
  async onTask(task: TaskMessage): Promise<void> {
    const record: RoundRecord = { roundId: task.roundId, round: task.round, attempt: task.attempt, status: 'training', secaggMs: {} };
    this.metrics.rounds.push(record);
    if (this.active?.task.roundId === task.roundId && this.active.secagg) return; // resumed: already past training
    const round: ActiveRound = { task, record, stageStarted: performance.now(), early: [], lastOutgoing: null };
    this.active = round;
    // Date.now(): a trainer in another Worker compares it with its own clock (performance.now() origins differ).
    const deadline = { at: Date.now() + task.trainingDeadlineMs, totalMs: task.trainingDeadlineMs };
    let step: FailureStep = 'task';
    try {
      // Weak (k, t) for this n and the task's δ, γ / maxColluders: refused before training spends anything.
      checkSecAggParamsMeet(task.secagg.clients.length, task.secagg.neighbours, task.secagg.threshold, task.secagg);
      // The coordinator may count fewer contributions than this client runs mini-clients (its run caps them at
      // maxMiniClients): the first `contributions` mini-clients take part. More than it runs would be a wrong mean.
      const k = task.contributions;
      if (k > this.trainer.miniClients) {
        throw new Error(`the coordinator counts ${k} contributions for this client, it runs only ${this.trainer.miniClients} mini-clients`);
      }
      const global = decodeModelWeights(task.model);
      // Federated evaluation: the DDG input is [update ‖ FEDERATED_METRICS metric sums], d + k values.
      const evaluation = task.evaluation ?? null;
      const extra = evaluation ? FEDERATED_METRICS : 0;
      if (global.length + extra !== task.ddg.dim) {
        throw new Error(
          `task weights have ${global.length} values${extra ? ` (plus ${extra} federated evaluation coordinates)` : ''}, the DDG dimension is ${task.ddg.dim}`,
        );
      }
      const padded = nextPowerOfTwo(task.ddg.dim);
      const input = evaluation ? new Float64Array(task.ddg.dim) : null;
      // What the model update is clipped to: c, or √(c² − c_m²) when the metrics take c_m of the norm.
      const modelClip = modelUpdateClip(task.ddg.clip, evaluation);
      // Adaptive clipping (issue 15 §3): clip to this round's C_t, rescale onto the plan's clip, and append the
      // clipped count after the d′ DDG coordinates (clipCount.ts): a SecAgg input of d′ + 1.
      const adaptive = task.adaptiveClip ?? null;
      // A noised model beside a noiseless count would publish the clipped share exactly: refused.
      if (adaptive && task.ddg.localStddev > 0 && adaptive.countStddev === 0)
        throw new Error('the task asks for a clipped count without noise beside a noised update');
      const sum = new Uint32Array(padded + (adaptive ? 1 : 0));
      const ddgPart = adaptive ? sum.subarray(0, padded) : sum;
      const encoded = new Uint32Array(padded);
      const scratch = new Float64Array(padded);
      const rng = cryptoRandomWords();
      const clipped: Float32Array[] = [];
      let lossSum = 0;
      let accSum = 0;
      let examples = 0;
      let steps = 0;
      let trainMs = 0;
      let encodeMs = 0;
      const heldOut = { lossSum: 0, correct: 0, examples: 0 };
      const train = (j: number) =>
        this.trainer.train(
          { spec: task.model.spec, task: task.task, global, training: task.training, dpsgd: task.dpsgd, miniClient: j, deadline, evaluation },
          (p) =>
            this.throttledReport({
              roundId: task.roundId,
              phase: 'training',
              epoch: p.epoch,
              batch: p.batch,
              progress: (j + (p.epoch * p.batches + p.batch) / (task.training.epochs * p.batches)) / k,
            }),
        );
      // Mini-client j+1 trains while j is encoded (in parallel when the trainer is another Worker).
      step = 'training';
      let next: Promise<TrainOutput> = train(0);
      for (let j = 0; j < k; j++) {
        step = 'training'; // (training and encoding overlap: either way the coordinator hears no message)
        const result = await next;
        if (j + 1 < k) next = train(j + 1);
        if (result.dpsgdRdp) this.ledgersOf(task.runId, j + 1)[j]!.add(result.dpsgdRdp);
        lossSum += result.loss * result.examples;
        accSum += result.accuracy * result.examples;
        examples += result.examples;
        steps += result.steps;
        trainMs += result.ms;
        let delta: Float32Array | Float64Array = result.delta;
        let below = true;
        if (adaptive) ({ scaled: delta, below } = clipToAdaptive(delta, adaptive.clip, modelClip));
        if (this.host.onClippedUpdates) {
          // What the released mean averages: the update clipped to C_t (adaptive) or to the fixed clip.
          const s = adaptive ? adaptive.clip / modelClip : clipFactor(l2Norm(delta), modelClip);
          clipped.push(Float32Array.from(delta, (v) => v * s));
        }
        const t0 = performance.now();
        step = 'encoding';
        if (evaluation) {
          const m = result.metrics;
          if (!m) throw new Error('the task asks for federated evaluation and the trainer measured none');
          heldOut.lossSum += m.heldOut.lossSum;
          heldOut.correct += m.heldOut.correct;
          heldOut.examples += m.heldOut.examples;
          // [update clipped to √(c² − c_m²) ‖ metrics scaled into norm ≤ c_m]: norm ≤ c, so encodeDdg's clip (KLS21
          // Alg. 1 line 1) leaves it unchanged and Theorem 1 covers the metric coordinates with the same noise.
          appendFederatedMetrics(delta, m, task.ddg.clip, evaluation, input!);
        }
        encodeDdg(input ?? delta, task.ddg, task.rotationSeed, { rng, scratch, out: encoded });
        addInPlace(ddgPart, encoded, task.ddg.bits);
        if (adaptive) addClipCountInto(sum, below, { countStddev: adaptive.countStddev, countScale: adaptive.countScale, bits: task.ddg.bits }, rng);
        encodeMs += performance.now() - t0;
        this.host.report({ roundId: task.roundId, phase: 'encoding', progress: (j + 1) / k, encodeMs });
      }
      if (this.active !== round) return; // superseded while training
      this.metrics.backend = this.trainer.backend; // it may have fallen back from a failing GPU
      if (this.host.onClippedUpdates) this.host.onClippedUpdates(task.roundId, clipped);
      this.host.onEncodedInput?.(task.roundId, ddgPart);
      Object.assign(record, {
        trainLoss: lossSum / Math.max(1, examples),
        trainAccuracy: accSum / Math.max(1, examples),
        examples,
        steps,
        trainMs,
        encodeMs,
        ...(evaluation && heldOut.examples > 0
          ? { heldOutLoss: heldOut.lossSum / heldOut.examples, heldOutAccuracy: heldOut.correct / heldOut.examples, heldOutExamples: heldOut.examples }
          : {}),
        status: 'secagg',
      });
      this.updateDpsgdEpsilon(task);
      if (task.dpsgd) await this.host.persistDpsgdLedgers?.(this.persistedLedgers(task.runId));
      step = 'secagg';
      const secagg = await SecAggClient.create(
        {
          roundId: task.roundId,
          clients: task.secagg.clients,
          bits: task.ddg.bits,
          dim: sum.length,
          neighbours: task.secagg.neighbours,
          threshold: task.secagg.threshold,
          graphCommitment: task.secagg.graphCommitment,
        },
        task.secagg.id,
        sum,
        { requirement: task.secagg, ...(this.options.pki ? { pki: this.options.pki } : {}) },
      );
      round.secagg = secagg;
      this.host.report({
        roundId: task.roundId,
        phase: 'secagg',
        train: {
          loss: record.trainLoss!,
          accuracy: record.trainAccuracy!,
          examples,
          steps,
          ms: trainMs,
          backend: this.metrics.backend,
          dpsgdEpsilon: this.metrics.dpsgdEpsilon,
        },
        encodeMs,
      });
      round.stageStarted = performance.now();
      await this.send(round, await secagg.advertise());
      record.secaggMs['advertise-keys'] = performance.now() - round.stageStarted;
      for (const m of round.early.splice(0)) await this.onSecAgg(task.roundId, m);
    } catch (e) {
      record.status = 'failed';
      record.error = (e as Error).message;
      this.host.report({ roundId: task.roundId, phase: 'failed', failedAt: step, error: record.error.slice(0, 500) });
      if (this.active === round) this.active = null;
    }
  }

  private lastProgressAt = 0;

  /** Progress reports at most every 250 ms: the coordinator rate-limits each client. */
  private throttledReport(r: LocalReport): void {
    const now = performance.now();
    if (now - this.lastProgressAt < 250) return;
    this.lastProgressAt = now;
    this.host.report(r);
  }

  private updateDpsgdEpsilon(task: TaskMessage): void {
    if (!task.dpsgd) return;
    this.metrics.dpsgdDelta = task.dpsgd.delta;
    this.metrics.dpsgdEpsilon = this.dpsgdEpsilon(task.dpsgd.delta);
  }

  /** The run's ledgers, at least `length` of them (one per mini-client). */
  private ledgersOf(runId: string, length = this.trainer.miniClients): RdpLedger[] {
    let list = this.ledgers.get(runId);
    if (!list) {
      list = [];
      this.ledgers.set(runId, list);
    }
    while (list.length < length) list.push(new RdpLedger());
    return list;
  }

  /**
   * Instance-level ε of the worst mini-client: its RDP composed over every run it trained in (one shard's
   * examples may be trained on in several runs), converted at δ.
   */
  private dpsgdEpsilon(delta: number): number {
    const composed: RdpLedger[] = [];
    for (const list of this.ledgers.values()) {
      list.forEach((l, j) => {
        if (!l.rounds) return;
        composed[j] ??= new RdpLedger();
        composed[j]!.add(l.rdp());
      });
    }
    return Math.max(0, ...composed.filter((l) => l !== undefined).map((l) => rdpToEpsilon(l.rdp(), delta).epsilon));
  }

  private persistedLedgers(runId: string): PersistedDpsgdLedger[] {
    return this.ledgersOf(runId).flatMap((l, miniClient) => (l.rounds ? [{ runId, miniClient, rdp: l.rdp(), rounds: l.rounds }] : []));
  }

  /**
   * Restores the DP-SGD ledgers stored after earlier rounds (the page reloads them from IndexedDB), so ε
   * continues from its true value. Call after restoreMetrics (its δ converts the restored ledgers to ε).
   */
  restoreDpsgdLedgers(saved: readonly PersistedDpsgdLedger[]): void {
    for (const s of saved) {
      if (!Number.isInteger(s.miniClient) || s.miniClient < 0) throw new RangeError(`stored DP-SGD ledger of mini-client ${s.miniClient}`);
      this.ledgersOf(s.runId, s.miniClient + 1)[s.miniClient] = new RdpLedger(s.rdp, s.rounds);
    }
    // Nothing stored (a tab from before the ledgers were kept): leave the restored metrics' ε as it was.
    if (saved.length && this.metrics.dpsgdDelta !== null) this.metrics.dpsgdEpsilon = this.dpsgdEpsilon(this.metrics.dpsgdDelta);
  }

  /** A SecAgg message from the coordinator for the round in progress. */
  async onSecAgg(roundId: string, message: SecAggServerMessage): Promise<void> {
    const round = this.active;
    if (!round || round.task.roundId !== roundId) return;
    if (!round.secagg) {
      round.early.push(message);
      return;
    }
    const t0 = performance.now();
    const step = await round.secagg.handle(message);
    const stage = stageOpenedBy(message.type);
    round.record.secaggMs[stage] = performance.now() - t0;
    if (step.aborted) {
      round.record.status = 'failed';
      round.record.error = step.aborted.message;
      this.host.report({ roundId, phase: 'failed', failedAt: 'secagg', error: step.aborted.message.slice(0, 500) });
      return;
    }
    if (step.outgoing) await this.send(round, step.outgoing);
    else if (step.warnings.some((w) => w.code === 'replay') && round.lastOutgoing) {
      // The coordinator repeated a request we answered (we reconnected): answer again, idempotently.
      this.host.sendSecAgg(roundId, round.lastOutgoing);
    }
    if (round.secagg.state === 'done') this.host.report({ roundId, phase: 'done' });
  }

  /** Persists the round, then sends: after a reload the message can be sent again, never recomputed. */
  private async send(round: ActiveRound, message: SecAggClientMessage): Promise<void> {
    round.lastOutgoing = message;
    await this.host.persistRound?.({ task: round.task, record: round.record, secagg: round.secagg!.snapshot(), lastOutgoing: message });
    this.host.sendSecAgg(round.task.roundId, message);
  }

  /** Continues a round stored before a reload (see PersistedRound). */
  async resume(p: PersistedRound): Promise<void> {
    const secagg = await SecAggClient.restore(p.secagg, { requirement: p.task.secagg, ...(this.options.pki ? { pki: this.options.pki } : {}) });
    const record: RoundRecord = { ...p.record, secaggMs: { ...p.record.secaggMs } };
    if (!this.metrics.rounds.some((r) => r.roundId === record.roundId)) this.metrics.rounds.push(record);
    this.active = { task: p.task, record, secagg, stageStarted: performance.now(), early: [], lastOutgoing: p.lastOutgoing };
  }

  /** The coordinator closed the round. */
  onRoundEnd(end: { roundId: string; status: 'completed' | 'aborted'; included: boolean; reason?: string; accuracy?: number }): void {
    const rec = this.metrics.rounds.find((r) => r.roundId === end.roundId);
    if (rec) {
      if (rec.status !== 'failed') rec.status = end.status;
      rec.included = end.included;
      if (end.reason && end.status === 'aborted') rec.error = end.reason;
      if (end.accuracy !== undefined) rec.globalAccuracy = end.accuracy;
    }
    if (this.active?.task.roundId === end.roundId) {
      this.active = null;
      void this.host.persistRound?.(null);
    }
    void this.host.persistMetrics?.(this.metrics);
  }

  dispose(): void {
    this.trainer.dispose();
  }
}
