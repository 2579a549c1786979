/**
 * RDP of DP-SGD (the sampled Gaussian mechanism) at integer orders — Mironov, Talwar & Zhang 2019,
 * "Rényi Differential Privacy of the Sampled Gaussian Mechanism", §3.3:
 *   RDP(α) = log[ Σ_{k=0..α} C(α,k)·(1−q)^(α−k)·q^k·exp((k²−k)/(2z²)) ] / (α − 1)   per step,
 * and α/(2z²) when q = 1. Steps compose additively.
 */
import { DdpParameterError } from '../errors.ts';
import { RDP_ORDERS, checkSampleRate, logBinomial, logSumExp, rdpToEpsilon, type PrivacyLoss } from './rdp.ts';

export function sampledGaussianRdp(q: number, noiseMultiplier: number, alpha: number): number {
  const z = noiseMultiplier;
  if (q === 1) return alpha / (2 * z * z);
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const terms = new Float64Array(alpha + 1);
  for (let k = 0; k <= alpha; k++) {
    terms[k] = logBinomial(alpha, k) + (alpha - k) * log1mQ + k * logQ + (k * k - k) / (2 * z * z);
  }
  return logSumExp(terms) / (alpha - 1);
}

/** Per-step RDP of the sampled Gaussian mechanism at RDP_ORDERS. */
export function dpsgdStepRdp(sampleRate: number, noiseMultiplier: number): Float64Array {
  checkSampleRate(sampleRate);
  if (typeof noiseMultiplier !== 'number' || !Number.isFinite(noiseMultiplier) || noiseMultiplier <= 0) {
    throw new DdpParameterError('noiseMultiplier', `noise multiplier must be a positive finite number, got ${noiseMultiplier}`);
  }
  return Float64Array.from(RDP_ORDERS, (alpha) => sampledGaussianRdp(sampleRate, noiseMultiplier, alpha));
}

export function accountDpsgd(a: {
  readonly sampleRate: number;
  readonly noiseMultiplier: number;
  readonly steps: number;
  readonly delta: number;
}): PrivacyLoss {
  if (!Number.isInteger(a.steps) || a.steps < 0) throw new DdpParameterError('steps', `steps must be an integer >= 0, got ${a.steps}`);
  const step = dpsgdStepRdp(a.sampleRate, a.noiseMultiplier);
  const rdp = Array.from(step, (r) => r * a.steps);
  return { ...rdpToEpsilon(rdp, a.delta), orders: RDP_ORDERS, rdp };
}
