/**
 * The DDG parameters a run uses, from its configuration and the model dimension: calibrated from a target
 * ε (Kairouz et al. §4.4, noise sized for n_min parties — connections with their own keys, never the
 * mini-clients one declares — and never below σ/γ = 1/2), explicit γ and σ, or quantization only. The
 * modular headroom is sized for the expected contributions (each mini-client adds an update and a noise share).
 * With federated evaluation the DDG input is the model update plus FEDERATED_METRICS metric coordinates
 * (federatedEvaluation.ts): the plan — its `params.dim`, the padding, the calibration and the accountant — is
 * for that extended dimension d + k, while the model weights stay d.
 */
import { calibrateDdg, ddgRoundRdp, nextPowerOfTwo, quantizationGamma, type DdgParams } from '@hushfl/ddp';
import type { RunConfig } from '@hushfl/protocol';
import { federatedCoordinates } from './federatedEvaluation.ts';
import { expectedClientsPerRound } from './selection.ts';

export interface DdgPlan {
  readonly params: DdgParams;
  /** Target ε, or null without noise. */
  readonly epsilonBudget: number | null;
  readonly delta: number;
  readonly sampleRate: number;
  readonly dimPadded: number;
}

/** The plan for a model of dimension `modelDim`; its DDG dimension adds the run's federated evaluation coordinates. */
export function planDdg(config: RunConfig, modelDim: number): DdgPlan {
  const d = config.ddg;
  const dim = modelDim + federatedCoordinates(config);
  const clients = expectedClientsPerRound(config);
  const sampleRate = accountingSampleRate(config);
  const base = { dim, clip: d.clip, beta: d.beta, bits: d.bits };
  if (!d.noise) {
    const gamma = quantizationGamma({ clip: d.clip, clients, dim, bits: d.bits, kStddevs: d.kStddevs });
    return { params: { ...base, gamma, localStddev: 0 }, epsilonBudget: null, delta: d.delta, sampleRate, dimPadded: nextPowerOfTwo(dim) };
  }
  if (d.epsilon !== undefined) {
    const cal = calibrateDdg({
      epsilon: d.epsilon,
      delta: d.delta,
      clients,
      minClients: config.minClients,
      sampleRate,
      rounds: config.rounds,
      dim,
      clip: d.clip,
      bits: d.bits,
      beta: d.beta,
      kStddevs: d.kStddevs,
    });
    return {
      params: { ...base, gamma: cal.gamma, localStddev: cal.localStddev },
      epsilonBudget: d.epsilon,
      delta: d.delta,
      sampleRate,
      dimPadded: cal.dimPadded,
    };
  }
  return { params: { ...base, gamma: d.gamma!, localStddev: d.localStddev! }, epsilonBudget: null, delta: d.delta, sampleRate, dimPadded: nextPowerOfTwo(dim) };
}

/** One round's RDP vector for the noise of `parties` parties under the plan (null without noise). */
export function roundRdp(plan: DdgPlan, parties: number): Float64Array | null {
  if (plan.params.localStddev === 0) return null;
  return ddgRoundRdp({
    clip: plan.params.clip,
    gamma: plan.params.gamma,
    beta: plan.params.beta,
    dimPadded: plan.dimPadded,
    clients: parties,
    localStddev: plan.params.localStddev,
    sampleRate: plan.sampleRate,
  }).rdp;
}

/**
 * One round's RDP against the coordinator. The coordinator picks the sample and sees who took part, so
 * subsampling hides nothing from it: no amplification (q = 1), whatever the plan's sampling rate. Composed over
 * every released round it bounds the ε of every client, including one drawn into all of them.
 */
export function roundRdpAgainstCoordinator(plan: DdgPlan, parties: number): Float64Array | null {
  return roundRdp({ ...plan, sampleRate: 1 }, parties);
}

/** The client sampling rate the accountant may use: q under Poisson sampling, else 1 (no amplification). */
export function accountingSampleRate(c: RunConfig): number {
  return 'sampleRate' in c.selection ? c.selection.sampleRate : 1;
}
