/**
 * Rényi-DP bookkeeping shared by every accountant: the orders we evaluate, the RDP → (ε, δ) conversion of
 * Canonne, Kamath & Steinke 2020 (Prop. 12), and numerically safe log-space helpers.
 */
import { DdpParameterError } from '../errors.ts';

/** The RDP orders: exactly the integers 2..128 and 256. */
export const RDP_ORDERS: readonly number[] = Object.freeze([...Array.from({ length: 127 }, (_, i) => i + 2), 256]);

export interface PrivacySpent {
  /** The smallest ε over the orders for the requested δ. */
  readonly epsilon: number;
  /** The order that attains it. */
  readonly order: number;
}

export interface PrivacyLoss extends PrivacySpent {
  readonly orders: readonly number[];
  /** Total RDP at each order, aligned with `orders`. */
  readonly rdp: readonly number[];
}

export function checkDelta(delta: number): void {
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) {
    throw new DdpParameterError('delta', `delta must be in (0, 1), got ${delta}`);
  }
}

/**
 * (α, ρ)-RDP ⇒ (ε, δ)-DP with ε = ρ + log(1 − 1/α) − log(δ·α)/(α − 1)  (CKS 2020, Prop. 12),
 * minimised over the orders. ε is reported as at least 0.
 */
export function rdpToEpsilon(rdp: ArrayLike<number>, delta: number, orders: readonly number[] = RDP_ORDERS): PrivacySpent {
  checkDelta(delta);
  if (rdp.length !== orders.length) throw new RangeError(`rdp has ${rdp.length} values for ${orders.length} orders`);
  let best = Infinity;
  let bestOrder = orders[0]!;
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const eps = rdp[i]! + Math.log1p(-1 / a) - (Math.log(delta) + Math.log(a)) / (a - 1);
    if (eps < best) {
      best = eps;
      bestOrder = a;
    }
  }
  return { epsilon: Math.max(0, best), order: bestOrder };
}

/** log(Σ exp(aᵢ)) without overflow; −∞ terms are ignored. */
export function logSumExp(terms: ArrayLike<number>, count = terms.length): number {
  let max = -Infinity;
  for (let i = 0; i < count; i++) if (terms[i]! > max) max = terms[i]!;
  if (max === -Infinity) return -Infinity;
  if (max === Infinity) return Infinity;
  let s = 0;
  for (let i = 0; i < count; i++) s += Math.exp(terms[i]! - max);
  return max + Math.log(s);
}

const LOG_FACTORIAL: Float64Array = (() => {
  const t = new Float64Array(1025);
  for (let i = 2; i <= 1024; i++) t[i] = t[i - 1]! + Math.log(i);
  return t;
})();

/** log C(n, k) for 0 <= k <= n <= 1024. */
export function logBinomial(n: number, k: number): number {
  if (n > 1024) throw new RangeError('logBinomial supports n <= 1024');
  return LOG_FACTORIAL[n]! - LOG_FACTORIAL[k]! - LOG_FACTORIAL[n - k]!;
}

/**
 * Poisson-subsampled RDP at integer order α ≥ 2: the upper bound of Zhu & Wang (ICML 2019, Theorem 5),
 *   RDP_q(α) = log[ (1−q)^(α−1)·(αq − q + 1) + C(α,2)·q²·(1−q)^(α−2)·e^(ε(2))
 *                   + 3·Σ_{l=3..α} C(α,l)·(1−q)^(α−l)·q^l·e^((l−1)·ε(l)) ] / (α − 1),
 * evaluated in log space. `eps(l)` is the unsampled RDP at integer order l.
 */
export function subsampledRdp(alpha: number, q: number, eps: (order: number) => number): number {
  if (!Number.isInteger(alpha) || alpha < 2) throw new RangeError(`order must be an integer >= 2, got ${alpha}`);
  if (q === 1) return eps(alpha);
  if (q === 0) return 0;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const terms = new Float64Array(alpha);
  terms[0] = (alpha - 1) * log1mQ + Math.log(alpha * q - q + 1);
  terms[1] = logBinomial(alpha, 2) + 2 * logQ + (alpha - 2) * log1mQ + eps(2);
  for (let l = 3; l <= alpha; l++) {
    terms[l - 1] = Math.log(3) + logBinomial(alpha, l) + (alpha - l) * log1mQ + l * logQ + (l - 1) * eps(l);
  }
  return logSumExp(terms) / (alpha - 1);
}

export function checkSampleRate(q: number): void {
  if (typeof q !== 'number' || !(q > 0 && q <= 1)) {
    throw new DdpParameterError('sampleRate', `sample rate must be in (0, 1], got ${q}`);
  }
}
