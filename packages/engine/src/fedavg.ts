/**
 * What the server's step (fedOpt.ts) is applied to, and its inverse for FedAvg(M). The mean is the
 * released sum of the contributions' clipped updates over `releasedMeanDivisor`: the unweighted mean of the
 * contributions under fixed-size selection, the sum over the expected sample size under Poisson selection.
 */
import type { RunConfig } from '@hushfl/protocol';
import type { FedOptParams } from './fedOpt.ts';

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

/**
 * The inverse of FedAvg and FedAvgM's step (fedOpt.ts) for someone who sees only the successive global models
 * (every client does): mean_r = (w_r − w_{r−1})/η − β1·m_{r−1}, with m_{r−1} = (w_{r−1} − w_{r−2})/η.
 * `previousStep` is m_{r−1} (zeros after the initial model). Returns the mean and m_r. The adaptive optimizers
 * divide by √v_t + τ, which moves with the unknown mean: their models do not give it back.
 */
export function fedAvgMeanFromModels(
  before: Float32Array,
  after: Float32Array,
  previousStep: Float64Array | null,
  opt: FedOptParams,
): { mean: Float64Array | null; step: Float64Array } {
  if (opt.optimizer !== 'fedavg' && opt.optimizer !== 'fedavgm') throw new RangeError(`the models of ${opt.optimizer} do not give back its means`);
  const momentum = opt.optimizer === 'fedavgm' ? opt.beta1 : 0;
  if (before.length !== after.length) throw new RangeError(`models of ${before.length} and ${after.length} values`);
  const step = new Float64Array(after.length);
  for (let i = 0; i < step.length; i++) step[i] = (after[i]! - before[i]!) / opt.learningRate;
  if (momentum === 0) return { mean: step, step };
  if (!previousStep) return { mean: null, step };
  const mean = new Float64Array(step.length);
  for (let i = 0; i < mean.length; i++) mean[i] = step[i]! - momentum * previousStep[i]!;
  return { mean, step };
}
