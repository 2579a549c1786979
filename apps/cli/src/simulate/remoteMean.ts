/**
 * The released mean update of a remote coordinator's rounds, recovered from its successive global models —
 * the same public models every client receives. The server applies w_r = w_{r−1} + lr·m_r with momentum
 * m_r = β·m_{r−1} + mean_r (m = 0 before the first round), so mean_r = (w_r − w_{r−1})/lr − β·m_{r−1}.
 * Weights travel as float32, so the result carries their rounding (about 1e-7·|w|/lr per coordinate).
 */
export class RemoteMean {
  private prev: { round: number; weights: Float32Array } | null = null;
  /** m at prev.round, when known (always for β = 0). */
  private momentum: Float64Array | null = null;

  constructor(
    private readonly learningRate: number,
    private readonly beta: number,
  ) {}

  /** Records the model after `round` (−1: the initial model); returns that round's mean when it can be known. */
  observe(round: number, weights: Float32Array): Float64Array | null {
    const prev = this.prev;
    this.prev = { round, weights };
    if (round === -1) {
      this.momentum = new Float64Array(weights.length);
      return null;
    }
    if (!prev || prev.round !== round - 1 || prev.weights.length !== weights.length) {
      this.momentum = null;
      return null;
    }
    const m = new Float64Array(weights.length);
    for (let i = 0; i < m.length; i++) m[i] = (weights[i]! - prev.weights[i]!) / this.learningRate;
    const last = this.momentum;
    this.momentum = m;
    if (this.beta === 0) return m;
    if (!last) return null;
    const mean = new Float64Array(m.length);
    for (let i = 0; i < mean.length; i++) mean[i] = m[i]! - this.beta * last[i]!;
    return mean;
  }
}
