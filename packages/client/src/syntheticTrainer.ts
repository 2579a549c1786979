/**
 * A trainer that does not train (issue 17 §3's load generator): each mini-client's update is a fresh uniform
 * vector of the model's dimension with L2 norm `norm`, returned at once. Everything after it — clipping, DDG
 * encoding with its exact noise, SecAgg masking and the protocol — is the real client's, so the coordinator
 * sees the load of real parties without anyone's CPU spent on TensorFlow.js.
 */
import { cryptoRandomWords } from '@hushfl/ddp';
import type { Trainer, TrainOutput, TrainRequest } from './trainer.ts';

export class SyntheticTrainer implements Trainer {
  readonly backend = 'synthetic';
  private readonly rng = cryptoRandomWords();

  constructor(
    readonly miniClients: number,
    /** The update's L2 norm (default 0.5: under the usual clip of 1). */
    private readonly norm = 0.5,
  ) {
    if (!Number.isInteger(miniClients) || miniClients < 1) throw new RangeError('a trainer needs at least one mini-client');
  }

  async train(req: TrainRequest): Promise<TrainOutput> {
    const started = performance.now();
    const delta = new Float32Array(req.global.length);
    let sq = 0;
    for (let i = 0; i < delta.length; i++) {
      const v = this.rng.next() / 2 ** 32 - 0.5;
      delta[i] = v;
      sq += v * v;
    }
    const scale = sq > 0 ? this.norm / Math.sqrt(sq) : 0;
    for (let i = 0; i < delta.length; i++) delta[i]! *= scale;
    return { delta, loss: 0, accuracy: 0, examples: 1, steps: 0, ms: performance.now() - started, dpsgdRdp: null, metrics: null };
  }

  dispose(): void {}
}
