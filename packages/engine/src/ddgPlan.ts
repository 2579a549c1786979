/**
 * The DDG parameters a run uses, from its configuration and the model dimension: calibrated from a target
 * ε (Kairouz et al. §4.4, noise sized for n_min parties — connections with their own keys, never the
 * mini-clients one declares — and never below σ/γ = 1/2), explicit γ and σ, or quantization only. The
 * modular headroom is sized for the expected contributions (each mini-client adds an update and a noise share).
 * With federated evaluation the DDG input is the model update plus FEDERATED_METRICS metric coordinates
 * (federatedEvaluation.ts): the plan — its `params.dim`, the padding, the calibration and the accountant — is
 * for that extended dimension d + k, while the model weights stay d.
 *
 * With adaptive clipping (issue 15 §3) each party also sends the clipped count, one SecAgg coordinate with its
 * own noise (clipCount.ts): the plan carries that noise, and every round's RDP is the composed (update, count)
 * release (Andrew et al. 2021, §3), in calibration and in the ledger alike.
 */
import {
  accountClipCount,
  calibrateDdg,
  checkClipCountRange,
  clipCountGrid,
  countStddevFor,
  defaultClipCountNoise,
  ddgRoundRdp,
  defaultCountStddev,
  nextPowerOfTwo,
  quantizationGamma,
  modelUpdateClip,
  type DdgParams,
} from '@hushfl/ddp';
import type { RunConfig } from '@hushfl/protocol';
import { federatedCoordinates, roundEvaluation } from './federatedEvaluation.ts';
import { expectedClientsPerRound } from './selection.ts';

export interface DdgPlan {
  readonly params: DdgParams;
  /** Target ε, or null without noise. */
  readonly epsilonBudget: number | null;
  readonly delta: number;
  readonly sampleRate: number;
  readonly dimPadded: number;
  /** Adaptive clipping's count coordinate; absent with a fixed clip. */
  readonly clipCount?: ClipCountPlan;
}

/** The clipped count's noise and the noise budget's split (shown on the dashboard and in server_metrics.json). */
export interface ClipCountPlan {
  /** g: each party's grid noise stddev on the count coordinate (0 without DP noise). */
  readonly countStddev: number;
  /** h: the sign's scale on the grid, the count's sensitivity (clipCountGrid). */
  readonly countScale: number;
  /** σ_b: the noise stddev of the count Σb at n_min parties, in contributions (√n_min·g/(2h)). */
  readonly countNoise: number;
  /** ε of the update release alone and of the count alone over all rounds (calibrated runs; null otherwise). */
  readonly modelEpsilon: number | null;
  readonly countEpsilon: number | null;
  /** The σ the update's noise would have without the count (calibrated runs; null otherwise): the price of adapting. */
  readonly localStddevWithoutCount: number | null;
}

/**
 * The count's grid: σ_b = countNoise (default m/20, Andrew et al. §3) on Σb, which carries √n_min·s/2 of noise
 * in sign units, turned into the scale h and the grid stddev g = s·h (clipCountGrid).
 */
function countGridOf(config: RunConfig): { countStddev: number; countScale: number } | null {
  const a = config.ddg.adaptiveClip;
  if (!a) return null;
  if (!config.ddg.noise) return { countStddev: 0, countScale: 1 };
  if (a.countNoise !== undefined) return clipCountGrid(countStddevFor(a.countNoise, config.minClients));
  const m = expectedClientsPerRound(config);
  const d = config.ddg;
  // With a target ε: Andrew et al.'s m/20, or more where that would spend over a tenth of the budget.
  if (d.epsilon === undefined) return clipCountGrid(defaultCountStddev(m, config.minClients));
  const sampleRate = accountingSampleRate(config);
  return clipCountGrid(
    defaultClipCountNoise({ epsilon: d.epsilon, delta: d.delta, clients: m, minClients: config.minClients, sampleRate, rounds: config.rounds }),
  );
}

function clipCountPlan(
  config: RunConfig,
  grid: { countStddev: number; countScale: number },
  split: Omit<ClipCountPlan, 'countStddev' | 'countScale' | 'countNoise'>,
): ClipCountPlan {
  const minClients = config.minClients;
  // Every path (calibrated, explicit, noiseless): the count's sum must decode without a wrap.
  checkClipCountRange({ ...grid, clients: expectedClientsPerRound(config), bits: config.ddg.bits, kStddevs: config.ddg.kStddevs });
  return { ...grid, countNoise: (Math.sqrt(minClients) * grid.countStddev) / (2 * grid.countScale), ...split };
}

/** The plan for a model of dimension `modelDim`; its DDG dimension adds the run's federated evaluation coordinates. */
export function planDdg(config: RunConfig, modelDim: number): DdgPlan {
  const d = config.ddg;
  const dim = modelDim + federatedCoordinates(config);
  const clients = expectedClientsPerRound(config);
  const sampleRate = accountingSampleRate(config);
  const base = { dim, clip: d.clip, beta: d.beta, bits: d.bits };
  const grid = countGridOf(config);
  const unsplit = { modelEpsilon: null, countEpsilon: null, localStddevWithoutCount: null };
  if (!d.noise) {
    const gamma = quantizationGamma({ clip: d.clip, clients, dim, bits: d.bits, kStddevs: d.kStddevs });
    return {
      params: { ...base, gamma, localStddev: 0 },
      epsilonBudget: null,
      delta: d.delta,
      sampleRate,
      dimPadded: nextPowerOfTwo(dim),
      ...(grid !== null ? { clipCount: clipCountPlan(config, grid, unsplit) } : {}),
    };
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
      ...(grid !== null ? grid : {}),
    });
    return {
      params: { ...base, gamma: cal.gamma, localStddev: cal.localStddev },
      epsilonBudget: d.epsilon,
      delta: d.delta,
      sampleRate,
      dimPadded: cal.dimPadded,
      ...(grid !== null
        ? {
            clipCount: clipCountPlan(config, grid, {
              modelEpsilon: cal.modelEpsilon,
              countEpsilon: cal.countEpsilon,
              localStddevWithoutCount: cal.localStddevWithoutCount,
            }),
          }
        : {}),
    };
  }
  const explicit = {
    params: { ...base, gamma: d.gamma!, localStddev: d.localStddev! },
    epsilonBudget: null,
    delta: d.delta,
    sampleRate,
    dimPadded: nextPowerOfTwo(dim),
  };
  if (grid === null) return explicit;
  const countEpsilon = accountClipCount({ ...grid, clients: config.minClients, sampleRate, rounds: config.rounds, delta: d.delta }).epsilon;
  return { ...explicit, clipCount: clipCountPlan(config, grid, { ...unsplit, countEpsilon }) };
}

/**
 * Adaptive clipping's C_0: the clip the model update has under the plan — c, or its share √(c² − c_m²) beside
 * federated metrics (the plan's dimension exceeds the model's then).
 */
export function initialAdaptiveClip(config: RunConfig, plan: DdgPlan, modelDim: number): number {
  return modelUpdateClip(plan.params.clip, roundEvaluation(config, plan.params.dim, modelDim));
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
    // The count's noise, when the plan has one: one composed release with the update's (Andrew et al. §3).
    ...(plan.clipCount ? { countStddev: plan.clipCount.countStddev, countScale: plan.clipCount.countScale } : {}),
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
