/**
 * The server update (FedAvg with a server learning rate η and heavy-ball momentum μ; McMahan et al. 2017,
 * Hsu et al. 2019): m ← μ·m + mean, w ← w + η·m, with m = 0 before the first round. The mean is the
 * released sum of the contributions' clipped updates over `releasedMeanDivisor`: the unweighted mean of the
 * contributions under fixed-size selection, the sum over the expected sample size under Poisson selection.
 */
import type { RunConfig } from '@hushfl/protocol';

/**
 * What a round's released sum is divided by, or undefined for the realized contributions.
 *
 * Under Poisson selection it is q·N, the expected contributions (the config's sampleRate × population, N
 * counted in contributions): the fixed-denominator estimator of DP-FedAvg (McMahan et al. 2018), unbiased for
 * the population mean. Dividing by the realized count would publish, in every model, how many took part:
 * under add/remove adjacency — the one Poisson sampling's amplification is stated for — that count moves by
 * one with a single client and carries no noise, so consecutive models would tell whether someone joined.
 * q·N is public and the same every round: the model is a post-processing of the noisy sum alone. Fixed-size
 * selection keeps the realized count (the unweighted mean of the contributions): its accountant claims no
 * amplification from hiding who took part.
 */
export function releasedMeanDivisor(config: RunConfig): number | undefined {
  return 'sampleRate' in config.selection ? config.selection.sampleRate * config.selection.population : undefined;
}

export interface ServerOptimizer {
  readonly learningRate: number;
  readonly momentum: number;
}

export interface ServerState {
  readonly weights: Float32Array;
  /** null until the first round of a run with momentum. */
  readonly momentum: Float32Array | null;
}

/** The next global model; the inputs are not modified. */
export function fedAvgStep(state: ServerState, mean: Float64Array, opt: ServerOptimizer): ServerState {
  const d = state.weights.length;
  if (mean.length !== d) throw new RangeError(`the released mean has ${mean.length} values, the model ${d}`);
  const next = new Float32Array(d);
  const momentum = opt.momentum > 0 ? (state.momentum ? state.momentum.slice() : new Float32Array(d)) : null;
  for (let i = 0; i < d; i++) {
    let step = mean[i]!;
    if (momentum) {
      momentum[i] = opt.momentum * momentum[i]! + step;
      step = momentum[i]!;
    }
    next[i] = state.weights[i]! + opt.learningRate * step;
  }
  return { weights: next, momentum };
}

/**
 * The inverse of `fedAvgStep` for someone who sees only the successive global models (every client does):
 * mean_r = (w_r − w_{r−1})/η − μ·m_{r−1}, with m_{r−1} = (w_{r−1} − w_{r−2})/η. `previousStep` is m_{r−1}
 * (zeros after the initial model). Returns the mean and m_r.
 */
export function fedAvgMeanFromModels(
  before: Float32Array,
  after: Float32Array,
  previousStep: Float64Array | null,
  opt: ServerOptimizer,
): { mean: Float64Array | null; step: Float64Array } {
  if (before.length !== after.length) throw new RangeError(`models of ${before.length} and ${after.length} values`);
  const step = new Float64Array(after.length);
  for (let i = 0; i < step.length; i++) step[i] = (after[i]! - before[i]!) / opt.learningRate;
  if (opt.momentum === 0) return { mean: step, step };
  if (!previousStep) return { mean: null, step };
  const mean = new Float64Array(step.length);
  for (let i = 0; i < mean.length; i++) mean[i] = step[i]! - opt.momentum * previousStep[i]!;
  return { mean, step };
}
