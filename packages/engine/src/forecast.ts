/**
 * The utility forecast of a run config (issue 16 §3), before it starts: how large the noise of each released
 * mean is against the clip, the largest norm the mean's signal can have. Each of n parties adds N_Z(0, σ²/γ²) on
 * the grid and a conditional-rounding error of variance at most γ²/4 per coordinate (Kairouz, Liu & Steinke
 * 2021, §4); the rotation spreads the sum's noise evenly, so a released mean (the sum over `divisor`) carries
 * per model coordinate a standard deviation √(n·(σ² + γ²/4))/divisor, and over the d model coordinates a norm
 * of √d times that. With the noise sized for n_min while n ≥ n_min parties add it, n is the expected parties.
 *
 * The ratio noise norm / clip says whether a round's signal can stand out at all: the mean of clipped updates
 * has norm at most c, less when the updates disagree. SGD averages noise over rounds (the signal adds up as
 * T, the noise as √T), so a ratio of a few still learns slowly; far above √T nothing is learnt.
 */
import type { RunConfig } from '@hushfl/protocol';
import type { DdgPlan } from './ddgPlan.ts';
import { releasedMeanDivisor } from './fedavg.ts';
import { expectedClientsPerRound } from './selection.ts';

export type ForecastVerdict = 'learns' | 'slow' | 'no-learning';

export interface UtilityForecast {
  /** Expected parties per round (noise shares in each sum). */
  readonly parties: number;
  readonly minClients: number;
  readonly epsilon: number | null;
  readonly rounds: number;
  readonly clip: number;
  /** Standard deviation of the released mean's noise per model coordinate. */
  readonly noiseStddev: number;
  /** Its expected norm over the d model coordinates. */
  readonly noiseNorm: number;
  /** noiseNorm / clip: the signal-to-noise figure (a mean's signal has norm at most the clip). */
  readonly noiseToClip: number;
  readonly verdict: ForecastVerdict;
  /** One line for the operator: the figure, and what to change when noise dominates. */
  readonly message: string;
}

/** Below this noise-to-clip ratio a round's signal can stand out. */
export const FORECAST_LEARNS = 1;

export interface NoiseForecastInput {
  /** Parties whose noise shares each sum holds (expected). */
  readonly parties: number;
  /** What the released sum is divided by (the parties, or q·N under Poisson selection). */
  readonly divisor: number;
  readonly localStddev: number;
  readonly gamma: number;
  /** Model coordinates d. */
  readonly dim: number;
  readonly clip: number;
  readonly minClients: number;
  readonly epsilon: number | null;
  readonly rounds: number;
}

/** The forecast from the noise parameters themselves (`hushfl calibrate ddg` has no run config). */
export function forecastNoise(i: NoiseForecastInput): UtilityForecast {
  const noiseStddev = Math.sqrt(i.parties * (i.localStddev * i.localStddev + (i.gamma * i.gamma) / 4)) / i.divisor;
  const noiseNorm = noiseStddev * Math.sqrt(i.dim);
  const noiseToClip = noiseNorm / i.clip;
  // Over T rounds the noise averages down by √T against a consistent signal: beyond that nothing is learnt.
  const verdict: ForecastVerdict = noiseToClip <= FORECAST_LEARNS ? 'learns' : noiseToClip <= Math.sqrt(i.rounds) ? 'slow' : 'no-learning';
  const setting = `with n_min = ${i.minClients}${i.epsilon !== null ? ` and ε = ${i.epsilon}` : ''} over ${i.rounds} rounds`;
  const figure = `the noise norm is ${formatRatio(noiseToClip)}× the clip`;
  const advice = 'raise n_min or ε, or use Poisson selection from a larger population';
  const message =
    verdict === 'learns'
      ? `${setting} ${figure}: each round's signal can stand out`
      : verdict === 'slow'
        ? `${setting} ${figure}: expect slow learning (the noise averages out only over rounds); ${advice}`
        : `${setting} ${figure}: expect no learning; ${advice}`;
  return {
    parties: i.parties,
    minClients: i.minClients,
    epsilon: i.epsilon,
    rounds: i.rounds,
    clip: i.clip,
    noiseStddev,
    noiseNorm,
    noiseToClip,
    verdict,
    message,
  };
}

/** The forecast of a run config under its DDG plan, for a model of `modelDim` weights. */
export function forecastUtility(config: RunConfig, plan: DdgPlan, modelDim: number): UtilityForecast {
  const parties = expectedClientsPerRound(config);
  return forecastNoise({
    parties,
    divisor: releasedMeanDivisor(config) ?? parties,
    localStddev: plan.params.localStddev,
    gamma: plan.params.gamma,
    dim: modelDim,
    clip: plan.params.clip,
    minClients: config.minClients,
    epsilon: plan.epsilonBudget,
    rounds: config.rounds,
  });
}

function formatRatio(r: number): string {
  return r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toPrecision(2);
}
