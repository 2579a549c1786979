/**
 * Adaptive server optimizers (issue 15 §1): FedOpt, Reddi et al., "Adaptive Federated Optimization" (ICLR
 * 2021), Algorithm 2. With Δ_t the released mean of the round (the decoded DDG mean: post-processing, no
 * privacy cost), m_{-1} = 0 and v_{-1} = τ²:
 *
 *   m_t = β1·m_{t−1} + (1 − β1)·Δ_t
 *   FedAdagrad: v_t = v_{t−1} + Δ_t²
 *   FedYogi:    v_t = v_{t−1} − (1 − β2)·Δ_t²·sign(v_{t−1} − Δ_t²)
 *   FedAdam:    v_t = β2·v_{t−1} + (1 − β2)·Δ_t²
 *   x_{t+1} = x_t + η·m_t / (√v_t + τ)
 *
 * FedAvg is x_{t+1} = x_t + η·Δ_t, and FedAvgM heavy-ball momentum m_t = β1·m_{t−1} + Δ_t, x_{t+1} = x_t + η·m_t
 * (Hsu et al. 2019), as fedavg.ts has it. The state is float32, as checkpoints store it, and rounded to it
 * after every step, so a run resumed from a checkpoint continues bit for bit.
 */

import { SERVER_OPTIMIZERS, type ServerOptimizerKind, type ServerOptimizerParams } from '@hushfl/protocol';

export { SERVER_OPTIMIZERS, type ServerOptimizerKind };

/** η (learningRate), β1, β2 and τ of the optimizer: the run config's `serverOptimizerOf(config.server)`. */
export type FedOptParams = ServerOptimizerParams;

export interface FedOptState {
  /** First moment (FedAvgM: the momentum); null before the first round, or when the optimizer keeps none. */
  readonly m: Float32Array | null;
  /** Second moment (adaptive optimizers); null before the first round. */
  readonly v: Float32Array | null;
}

export const NO_FEDOPT_STATE: FedOptState = { m: null, v: null };

const adaptive = (o: ServerOptimizerKind) => o === 'fedadam' || o === 'fedyogi' || o === 'fedadagrad';

/** Throws naming the parameter the optimizer cannot use. */
export function checkFedOptParams(p: FedOptParams): void {
  if (!(SERVER_OPTIMIZERS as readonly string[]).includes(p.optimizer)) throw new RangeError(`unknown server optimizer ${p.optimizer}`);
  if (!(p.learningRate > 0 && Number.isFinite(p.learningRate))) throw new RangeError(`learningRate must be positive, got ${p.learningRate}`);
  if (!(p.beta1 >= 0 && p.beta1 < 1)) throw new RangeError(`beta1 must be in [0, 1), got ${p.beta1}`);
  if (!(p.beta2 >= 0 && p.beta2 < 1)) throw new RangeError(`beta2 must be in [0, 1), got ${p.beta2}`);
  if (adaptive(p.optimizer) && !(p.tau > 0 && Number.isFinite(p.tau))) throw new RangeError(`tau must be positive, got ${p.tau}`);
}

/** x_{t+1} and the optimizer's state after round t's mean Δ_t; the inputs are not modified. */
export function fedOptStep(weights: Float32Array, mean: Float64Array, state: FedOptState, p: FedOptParams): { weights: Float32Array; state: FedOptState } {
  checkFedOptParams(p);
  const d = weights.length;
  if (mean.length !== d) throw new RangeError(`the released mean has ${mean.length} values, the model ${d}`);
  for (const [name, s] of [
    ['m', state.m],
    ['v', state.v],
  ] as const)
    if (s && s.length !== d) throw new RangeError(`the optimizer state ${name} has ${s.length} values, the model ${d}`);
  const next = new Float32Array(d);
  const { optimizer, learningRate: eta, beta1, beta2, tau } = p;
  if (optimizer === 'fedavg') {
    for (let i = 0; i < d; i++) next[i] = weights[i]! + eta * mean[i]!;
    return { weights: next, state: NO_FEDOPT_STATE };
  }
  const m = state.m ? state.m.slice() : new Float32Array(d);
  if (optimizer === 'fedavgm') {
    for (let i = 0; i < d; i++) {
      m[i] = beta1 * m[i]! + mean[i]!;
      next[i] = weights[i]! + eta * m[i]!;
    }
    return { weights: next, state: { m, v: null } };
  }
  const v = state.v ? state.v.slice() : new Float32Array(d).fill(tau * tau);
  for (let i = 0; i < d; i++) {
    const g = mean[i]!;
    const g2 = g * g;
    m[i] = beta1 * m[i]! + (1 - beta1) * g;
    const prev = v[i]!;
    if (optimizer === 'fedadagrad') v[i] = prev + g2;
    else if (optimizer === 'fedadam') v[i] = beta2 * prev + (1 - beta2) * g2;
    else v[i] = prev - (1 - beta2) * g2 * Math.sign(prev - g2);
    // The rounded state, as it is stored: the step reads what a resumed run reads.
    next[i] = weights[i]! + (eta * m[i]!) / (Math.sqrt(v[i]!) + tau);
  }
  return { weights: next, state: { m, v } };
}
