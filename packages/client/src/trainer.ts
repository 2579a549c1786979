/**
 * Local training behind an interface, so the runtime can train in its own thread (Node, tests) or hand the
 * work to a dedicated Worker (the browser page, where training runs on WebGPU/WebGL next to a second Worker
 * that encodes and masks). A trainer turns the global weights into mini-client j's update.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ModelSpec, TaskMessage } from '@hushfl/protocol';
import { cryptoRandomWords, type FederatedSums } from '@hushfl/ddp';
import { buildModel, checkDataset, findTask, getFlatWeights, setFlatWeights, taskShape, type Dataset } from '@hushfl/tasks';
import type { TrainDeadline } from './backendFallback.ts';
import { boundedEvaluation, heldOutSplit } from './federatedMetrics.ts';
import { trainLocal, type TrainProgress } from './train.ts';

export interface TrainOutput {
  /** trained − global, model dimension. */
  readonly delta: Float32Array;
  readonly loss: number;
  readonly accuracy: number;
  readonly examples: number;
  readonly steps: number;
  readonly ms: number;
  readonly dpsgdRdp: Float64Array | null;
  /**
   * With the request's `evaluation`: the global model's bounded sums on the held-out split and the trained
   * model's on the training split (federatedMetrics.ts). They leave the device only inside the masked DDG input.
   */
  readonly metrics?: FederatedSums | null;
}

export interface TrainRequest {
  readonly spec: ModelSpec;
  /** The registry task: its input and classes shape the model. */
  readonly task: string;
  readonly global: Float32Array;
  readonly training: TaskMessage['training'];
  readonly dpsgd: TaskMessage['dpsgd'];
  /** Which mini-client (and shard) to train. */
  readonly miniClient: number;
  /** Federated evaluation (the task's `evaluation`): hold out that share of the shard, train on the rest, and measure both. */
  readonly evaluation?: TaskMessage['evaluation'];
  /** The round's training deadline: a trainer that falls back to another backend retries only while it allows. */
  readonly deadline?: TrainDeadline;
}

export interface Trainer {
  /** How many mini-clients (shards) this trainer has. */
  readonly miniClients: number;
  /** The backend training runs on; it may change between calls (a GPU that failed: backendFallback.ts). */
  readonly backend: string;
  train(req: TrainRequest, onProgress?: (p: TrainProgress) => void): Promise<TrainOutput>;
  dispose(): void;
}

/** Trains in this thread with whatever TensorFlow.js backend is active. */
export class LocalTrainer implements Trainer {
  private model: tfl.LayersModel | null = null;
  private modelKey = '';
  private readonly rng = cryptoRandomWords();

  constructor(
    private readonly datasets: readonly Dataset[],
    readonly backend: string,
  ) {
    if (datasets.length < 1) throw new RangeError('a trainer needs at least one dataset');
  }

  get miniClients(): number {
    return this.datasets.length;
  }

  private modelFor(spec: ModelSpec, task: string): tfl.LayersModel {
    const key = JSON.stringify([task, spec]);
    if (!this.model || key !== this.modelKey) {
      this.model?.dispose();
      this.model = null;
      const shape = taskShape(findTask(task));
      // The shards against the task, once per model: a stale or foreign shard fails here, naming what is wrong.
      for (const d of this.datasets) checkDataset(shape, d);
      this.model = buildModel(spec, shape);
      this.modelKey = key;
    }
    return this.model;
  }

  async train(req: TrainRequest, onProgress?: (p: TrainProgress) => void): Promise<TrainOutput> {
    const data = this.datasets[req.miniClient];
    if (!data) throw new RangeError(`no shard for mini-client ${req.miniClient}`);
    const model = this.modelFor(req.spec, req.task);
    setFlatWeights(model, req.global);
    const ev = req.evaluation ?? null;
    const split = ev ? heldOutSplit(data, ev.fraction) : null;
    // The global model as received, on examples this mini-client never trains on.
    const heldOut = ev && split ? await boundedEvaluation(model, split.heldOut, ev) : null;
    const r = await trainLocal(model, split ? split.train : data, req.training, { dpsgd: req.dpsgd, rng: this.rng, ...(onProgress ? { onProgress } : {}) });
    const trained = await getFlatWeights(model);
    const delta = new Float32Array(trained.length);
    for (let i = 0; i < delta.length; i++) delta[i] = trained[i]! - req.global[i]!;
    const metrics = ev && split && heldOut ? { heldOut, train: await boundedEvaluation(model, split.train, ev) } : null;
    return { delta, loss: r.loss, accuracy: r.accuracy, examples: r.examples, steps: r.steps, ms: r.ms, dpsgdRdp: r.dpsgdRdp, metrics };
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}
