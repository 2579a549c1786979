/**
 * The released mean update of a remote coordinator's rounds, recovered from its successive global models —
 * the same public models every client receives — by inverting the engine's own server update
 * (`fedAvgMeanFromModels`, packages/engine/src/fedavg.ts). Weights travel as float32, so the result carries
 * their rounding (about 1e-7·|w|/lr per coordinate).
 */
import { type FedOptParams, fedAvgMeanFromModels } from '@hushfl/engine';

export class RemoteMean {
  private prev: { round: number; weights: Float32Array } | null = null;
  /** m at prev.round, when known (always for momentum 0). */
  private step: Float64Array | null = null;
  /** False for the adaptive optimizers: their models do not give the mean back (fedavg.ts). */
  readonly recoverable: boolean;

  constructor(readonly optimizer: FedOptParams) {
    this.recoverable = optimizer.optimizer === 'fedavg' || optimizer.optimizer === 'fedavgm';
  }

  /** Records the model after `round` (−1: the initial model); returns that round's mean when it can be known. */
  observe(round: number, weights: Float32Array): Float64Array | null {
    const prev = this.prev;
    this.prev = { round, weights };
    if (round === -1) {
      this.step = new Float64Array(weights.length);
      return null;
    }
    if (!this.recoverable || !prev || prev.round !== round - 1 || prev.weights.length !== weights.length) {
      this.step = null;
      return null;
    }
    const { mean, step } = fedAvgMeanFromModels(prev.weights, weights, this.step, this.optimizer);
    this.step = step;
    return mean;
  }
}
