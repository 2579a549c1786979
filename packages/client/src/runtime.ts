/**
 * The client runtime: everything a selected client does in a round, with no sockets, DOM or files.
 * On a task it trains each of its mini-clients from the global weights on its own shard, DDG-encodes each
 * update (clip, rotate, round, add exact discrete Gaussian noise, reduce mod 2^B), sums the encodings in
 * Z_{2^B} — memory O(d), not O(k·d) — and runs the SecAgg client on that sum. The shell (a browser Worker or
 * a Node worker thread) wires it to the coordinator's socket through `RuntimeHost`.
 */
import { RdpLedger, cryptoRandomWords, encodeDdg, l2Norm, nextPowerOfTwo, rdpToEpsilon } from '@hushfl/ddp';
import { f32FromBytes, type Report, type TaskMessage } from '@hushfl/protocol';
import { SecAggClient, addInPlace, type SecAggClientMessage, type SecAggServerMessage, type SecAggStage } from '@hushfl/secagg';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Dataset } from './data.ts';
import { buildModel, getFlatWeights, setFlatWeights } from './model.ts';
import { trainLocal } from './train.ts';

export interface RuntimeHost {
  sendSecAgg(roundId: string, message: SecAggClientMessage): void;
  report(report: Report): void;
  /**
   * Only `hushfl simulate` sets this: it already holds every simulated client's data and measures the DDG
   * error against the plain mean of the clipped updates. The coordinator never sees these.
   */
  onClippedUpdates?(roundId: string, clipped: readonly Float32Array[]): void;
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
}

export class ClientRuntime {
  private model: tfl.Sequential | null = null;
  private modelKey = '';
  private active: ActiveRound | null = null;
  private readonly ledgers: RdpLedger[];
  readonly metrics: ClientMetrics;

  constructor(
    private readonly datasets: readonly Dataset[],
    private readonly host: RuntimeHost,
    backend: string,
  ) {
    if (datasets.length < 1) throw new RangeError('a client needs at least one dataset');
    this.ledgers = datasets.map(() => new RdpLedger());
    this.metrics = { backend, miniClients: datasets.length, rounds: [], dpsgdEpsilon: null, dpsgdDelta: null };
  }

  get currentRoundId(): string | null {
    return this.active?.task.roundId ?? null;
  }

  private modelFor(task: TaskMessage): tfl.Sequential {
    const key = JSON.stringify(task.model.spec);
    if (!this.model || key !== this.modelKey) {
      this.model?.dispose();
      this.model = buildModel(task.model.spec);
      this.modelKey = key;
    }
    return this.model;
  }

  /** A round task: train, encode, sum, and open SecAgg. */
  async onTask(task: TaskMessage): Promise<void> {
    const record: RoundRecord = { roundId: task.roundId, round: task.round, attempt: task.attempt, status: 'training', secaggMs: {} };
    this.metrics.rounds.push(record);
    const round: ActiveRound = { task, record, stageStarted: performance.now(), early: [] };
    this.active = round;
    try {
      if (task.contributions !== this.datasets.length) {
        throw new Error(`the coordinator counts ${task.contributions} contributions for this client, it runs ${this.datasets.length} mini-clients`);
      }
      const global = f32FromBytes(task.model.weights).slice();
      const model = this.modelFor(task);
      const d = task.ddg.dim;
      if (global.length !== d) throw new Error(`task weights have ${global.length} values, the DDG dimension is ${d}`);
      const padded = nextPowerOfTwo(d);
      const sum = new Uint32Array(padded);
      const encoded = new Uint32Array(padded);
      const scratch = new Float64Array(padded);
      const delta = new Float32Array(d);
      const rng = cryptoRandomWords();
      const clipped: Float32Array[] = [];
      let lossSum = 0;
      let accSum = 0;
      let examples = 0;
      let steps = 0;
      let trainMs = 0;
      let encodeMs = 0;
      for (let j = 0; j < this.datasets.length; j++) {
        const data = this.datasets[j]!;
        setFlatWeights(model, global);
        const result = await trainLocal(model, data, task.training, {
          dpsgd: task.dpsgd,
          rng,
          onProgress: (p) =>
            this.throttledReport({
              roundId: task.roundId,
              phase: 'training',
              epoch: p.epoch,
              batch: p.batch,
              progress: (j + (p.epoch * p.batches + p.batch) / (task.training.epochs * p.batches)) / this.datasets.length,
            }),
        });
        if (result.dpsgdRdp) this.ledgers[j]!.add(result.dpsgdRdp);
        lossSum += result.loss * result.examples;
        accSum += result.accuracy * result.examples;
        examples += result.examples;
        steps += result.steps;
        trainMs += result.ms;
        const trained = getFlatWeights(model);
        for (let i = 0; i < d; i++) delta[i] = trained[i]! - global[i]!;
        if (this.host.onClippedUpdates) {
          const norm = l2Norm(delta);
          const s = norm > task.ddg.clip ? task.ddg.clip / norm : 1;
          clipped.push(delta.map((v) => v * s));
        }
        const t0 = performance.now();
        encodeDdg(delta, task.ddg, task.rotationSeed, { rng, scratch, out: encoded });
        addInPlace(sum, encoded, task.ddg.bits);
        encodeMs += performance.now() - t0;
        this.host.report({ roundId: task.roundId, phase: 'encoding', progress: (j + 1) / this.datasets.length, encodeMs });
      }
      if (this.active !== round) return; // superseded while training
      if (this.host.onClippedUpdates) this.host.onClippedUpdates(task.roundId, clipped);
      Object.assign(record, { trainLoss: lossSum / Math.max(1, examples), trainAccuracy: accSum / Math.max(1, examples), examples, steps, trainMs, encodeMs, status: 'secagg' });
      this.updateDpsgdEpsilon(task);
      const secagg = await SecAggClient.create(
        {
          roundId: task.roundId,
          clients: task.secagg.clients,
          bits: task.ddg.bits,
          dim: padded,
          neighbours: task.secagg.neighbours,
          threshold: task.secagg.threshold,
          graphSeed: task.secagg.graphSeed,
        },
        task.secagg.id,
        sum,
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
      this.host.sendSecAgg(task.roundId, await secagg.advertise());
      record.secaggMs['advertise-keys'] = performance.now() - round.stageStarted;
      for (const m of round.early.splice(0)) await this.onSecAgg(task.roundId, m);
    } catch (e) {
      record.status = 'failed';
      record.error = (e as Error).message;
      this.host.report({ roundId: task.roundId, phase: 'failed', error: record.error.slice(0, 500) });
      if (this.active === round) this.active = null;
    }
  }

  private lastProgressAt = 0;

  /** Progress reports at most every 250 ms: the coordinator rate-limits each client. */
  private throttledReport(r: Report): void {
    const now = performance.now();
    if (now - this.lastProgressAt < 250) return;
    this.lastProgressAt = now;
    this.host.report(r);
  }

  private updateDpsgdEpsilon(task: TaskMessage): void {
    if (!task.dpsgd) return;
    this.metrics.dpsgdDelta = task.dpsgd.delta;
    this.metrics.dpsgdEpsilon = Math.max(...this.ledgers.map((l) => (l.rounds ? rdpToEpsilon(l.rdp(), task.dpsgd!.delta).epsilon : 0)));
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
    const stage = STAGE_OF_REPLY[message.type];
    round.record.secaggMs[stage] = performance.now() - t0;
    if (step.aborted) {
      round.record.status = 'failed';
      round.record.error = step.aborted.message;
      this.host.report({ roundId, phase: 'failed', error: step.aborted.message.slice(0, 500) });
      return;
    }
    if (step.outgoing) this.host.sendSecAgg(roundId, step.outgoing);
    if (round.secagg.state === 'done') this.host.report({ roundId, phase: 'done' });
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
    if (this.active?.task.roundId === end.roundId) this.active = null;
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}

/** The stage a server message opens on the client (its reply belongs to it). */
const STAGE_OF_REPLY: Record<SecAggServerMessage['type'], SecAggStage> = {
  'neighbour-keys': 'share-keys',
  'shares-for-you': 'masked-input',
  survivors: 'consistency-check',
  'unmask-request': 'unmasking',
};
