/**
 * Local training behind an interface, so the runtime can train in its own thread (Node, tests) or hand the
 * work to a dedicated Worker (the browser page, where training runs on WebGPU/WebGL next to a second Worker
 * that encodes and masks). A trainer turns the global weights into mini-client j's update.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ModelSpec, TaskMessage } from '@hushfl/protocol';
import { cryptoRandomWords } from '@hushfl/ddp';
import { buildModel, getFlatWeights, setFlatWeights, type Dataset } from '@hushfl/tasks';
import type { TrainDeadline } from './backendFallback.ts';
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
}

export interface TrainRequest {
  readonly spec: ModelSpec;
  readonly global: Float32Array;
  readonly training: TaskMessage['training'];
  readonly dpsgd: TaskMessage['dpsgd'];
  /** Which mini-client (and shard) to train. */
  readonly miniClient: number;
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
  private model: tfl.Sequential | null = null;
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

  private modelFor(spec: ModelSpec): tfl.Sequential {
    const key = JSON.stringify(spec);
    if (!this.model || key !== this.modelKey) {
      this.model?.dispose();
      this.model = buildModel(spec);
      this.modelKey = key;
    }
    return this.model;
  }

  async train(req: TrainRequest, onProgress?: (p: TrainProgress) => void): Promise<TrainOutput> {
    const data = this.datasets[req.miniClient];
    if (!data) throw new RangeError(`no shard for mini-client ${req.miniClient}`);
    const model = this.modelFor(req.spec);
    setFlatWeights(model, req.global);
    const r = await trainLocal(model, data, req.training, { dpsgd: req.dpsgd, rng: this.rng, ...(onProgress ? { onProgress } : {}) });
    const trained = await getFlatWeights(model);
    const delta = new Float32Array(trained.length);
    for (let i = 0; i < delta.length; i++) delta[i] = trained[i]! - req.global[i]!;
    return { delta, loss: r.loss, accuracy: r.accuracy, examples: r.examples, steps: r.steps, ms: r.ms, dpsgdRdp: r.dpsgdRdp };
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}
