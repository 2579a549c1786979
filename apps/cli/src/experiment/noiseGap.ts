/**
 * Why DDG's release is noisier than central DP's at the same (ε, δ), factor by factor (issue 16: where DDG falls
 * short, say by how much and why). The standard deviation of the released sum's noise, DDG over central, is the
 * product of
 * - n_min: each party's share is sized so that n_min parties reach the target while about q·N take part and all
 *   add theirs: √(q·N / n_min);
 * - the sampling bound: the DDG accountant (Kairouz, Liu & Steinke 2021, as their reference code does) amplifies
 *   by Poisson sampling with Zhu & Wang's bound for any mechanism (ICML 2019, Theorem 5), central DP's with the
 *   sampled Gaussian's exact RDP (Mironov, Talwar & Zhang 2019): the ratio of the Gaussian noise multipliers the
 *   two need for the same ε;
 * - rounding and τ: the rest — conditional rounding's inflated sensitivity (Theorem 1's Δ₂) and the
 *   sum-of-discrete-Gaussians term τ, which the DDG accountant charges and a Gaussian does not have (τ is
 *   negligible at the grid steps the calibration picks, σ/γ in the tens and more: the rest is then Δ₂'s).
 */
import { accountDpsgd, RDP_ORDERS, rdpToEpsilon, subsampledRdp } from '@hushfl/ddp';

/** The smallest z in [0.05, 50] with epsAt(z) ≤ target (epsAt decreasing in z), to a relative 1e-6. */
function smallestMultiplier(epsAt: (z: number) => number, target: number, what: string): number {
  let lo = 0.05;
  let hi = 50;
  if (epsAt(hi) > target) throw new Error(`ε = ${target} is out of reach for ${what}`);
  while (hi / lo > 1 + 1e-6) {
    const mid = Math.sqrt(lo * hi);
    if (epsAt(mid) <= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The smallest noise multiplier z whose sampled Gaussian ε (exact RDP, Mironov et al.) over `rounds` is at most the target. */
export function centralNoiseMultiplier(epsilon: number, delta: number, q: number, rounds: number): number {
  return smallestMultiplier(
    (z) => accountDpsgd({ sampleRate: q, noiseMultiplier: z, steps: rounds, delta }).epsilon,
    epsilon,
    'the central Gaussian mechanism',
  );
}

/**
 * The same, with the Gaussian's RDP α/(2z²) amplified by Zhu & Wang's general bound (min with the unsampled RDP,
 * per order, as the DDG accountant does): what the DDG accountant's sampling bound alone asks of a Gaussian.
 */
export function zhuWangNoiseMultiplier(epsilon: number, delta: number, q: number, rounds: number): number {
  return smallestMultiplier(
    (z) => {
      const rdp = (alpha: number) => alpha / (2 * z * z);
      return rdpToEpsilon(
        RDP_ORDERS.map((alpha) => rounds * Math.min(subsampledRdp(alpha, q, rdp), rdp(alpha))),
        delta,
      ).epsilon;
    },
    epsilon,
    'a Gaussian under the general subsampling bound',
  );
}

export interface NoiseGapInput {
  readonly epsilon: number;
  readonly delta: number;
  readonly sampleRate: number;
  readonly population: number;
  /** The parties DDG's noise is sized for. */
  readonly minClients: number;
  readonly rounds: number;
  readonly clip: number;
  /** Central DP's noise multiplier z (its sum's noise is z·clip). */
  readonly centralNoiseMultiplier: number;
  /** DDG's per-party noise standard deviation σ, model units. */
  readonly localStddev: number;
}

/** Factors of the noise standard deviation, DDG's released sum over central DP's; total = the product of the rest. */
export interface NoiseGap {
  readonly total: number;
  readonly minClients: number;
  readonly samplingBound: number;
  readonly rounding: number;
}

/** Solved once per (ε, δ, q, rounds): every DDG row of one ε shares it. */
const zhuWangSolved = new Map<string, number>();

export function ddgNoiseGap(o: NoiseGapInput): NoiseGap {
  const parties = o.sampleRate * o.population;
  const total = (Math.sqrt(parties) * o.localStddev) / (o.centralNoiseMultiplier * o.clip);
  const minClients = Math.sqrt(parties / o.minClients);
  const key = `${o.epsilon}/${o.delta}/${o.sampleRate}/${o.rounds}`;
  let zw = zhuWangSolved.get(key);
  if (zw === undefined) {
    zw = zhuWangNoiseMultiplier(o.epsilon, o.delta, o.sampleRate, o.rounds);
    zhuWangSolved.set(key, zw);
  }
  const samplingBound = zw / o.centralNoiseMultiplier;
  return { total, minClients, samplingBound, rounding: total / (minClients * samplingBound) };
}
