/**
 * Choosing the SecAgg+ degree k and threshold t (Bell et al. CCS 2020, §4: k = O(log n) suffices).
 * For a target number of clients n, a tolerated dropout rate δ and a fraction γ of clients that may collude
 * with the server, the smallest even k (with t in (k/2, k]) such that, with clients failing independently:
 * - security: P(a client has >= t colluding neighbours) <= 2^-σ / n   (a coalition of t could unmask it),
 * - connectivity: n·(δ+γ)^(k/2) <= 2^-σ  (no run of k/2 bad clients on the ring, so the honest survivors
 *   stay connected and the server learns nothing finer than the total sum),
 * - correctness: P(fewer than t of a client's neighbours survive) <= 2^-η  (its masks can be removed).
 * t > k/2 always holds, so two disjoint sets of t neighbours cannot exist: the server can never obtain both
 * b_u and s_u^SK of a client from honest neighbours. When no sparse k meets the targets, the complete graph
 * (k = n−1) is used, as in Bonawitz et al. 2017.
 */
import { SecAggError } from './errors.ts';

export interface SecAggParamOptions {
  /** Tolerated fraction of clients that drop out, δ (default 0.1). */
  readonly dropoutRate?: number;
  /** Fraction of clients that may collude with the server, γ (default 0.1). */
  readonly corruptRate?: number;
  /** Statistical security σ in bits (default 40). */
  readonly securityBits?: number;
  /** Correctness η in bits: a round fails to unmask with probability <= 2^-η per client (default 20). */
  readonly correctnessBits?: number;
}

export interface SecAggParams {
  readonly neighbours: number;
  readonly threshold: number;
  /** True when k = n − 1 (every client is every other's neighbour). */
  readonly complete: boolean;
}

const LOG_FACT: number[] = [0];
function logFactorial(n: number): number {
  for (let i = LOG_FACT.length; i <= n; i++) LOG_FACT.push(LOG_FACT[i - 1]! + Math.log(i));
  return LOG_FACT[n]!;
}

/** log2 P(Bin(k, p) >= t). */
export function log2BinomialTailAtLeast(k: number, p: number, t: number): number {
  if (t <= 0) return 0;
  if (t > k) return -Infinity;
  if (p <= 0) return -Infinity;
  if (p >= 1) return 0;
  const terms: number[] = [];
  for (let i = t; i <= k; i++) terms.push(logFactorial(k) - logFactorial(i) - logFactorial(k - i) + i * Math.log(p) + (k - i) * Math.log1p(-p));
  const max = Math.max(...terms);
  return (max + Math.log(terms.reduce((s, x) => s + Math.exp(x - max), 0))) / Math.LN2;
}

/** Refuses k, t that break the protocol's guarantees for n clients. */
export function validateSecAggParams(n: number, neighbours: number, threshold: number): void {
  if (!Number.isInteger(n) || n < 2) throw new SecAggError('bad-parameters', `SecAgg needs at least 2 clients, got ${n}`);
  if (!Number.isInteger(neighbours) || neighbours < 1) throw new SecAggError('bad-parameters', `neighbours k must be a positive integer, got ${neighbours}`);
  const k = Math.min(neighbours, n - 1);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > k) {
    throw new SecAggError('bad-parameters', `threshold t must be an integer in [1, k=${k}], got ${threshold}`);
  }
  if (2 * threshold <= k) {
    throw new SecAggError(
      'bad-parameters',
      `threshold t=${threshold} must exceed k/2=${k / 2}: with t <= k/2 two disjoint sets of t neighbours could reveal both a client's self mask and its mask key`,
    );
  }
  if (k < n - 1 && k % 2 !== 0) throw new SecAggError('bad-parameters', `a sparse graph (k < n−1) needs an even k, got ${k}`);
}

export function chooseSecAggParams(n: number, options: SecAggParamOptions = {}): SecAggParams {
  const delta = options.dropoutRate ?? 0.1;
  const gamma = options.corruptRate ?? 0.1;
  const sigma = options.securityBits ?? 40;
  const eta = options.correctnessBits ?? 20;
  if (!Number.isInteger(n) || n < 2) throw new SecAggError('bad-parameters', `SecAgg needs at least 2 clients, got ${n}`);
  if (!(delta >= 0 && delta < 1) || !(gamma >= 0 && gamma < 1) || delta + gamma >= 1) {
    throw new SecAggError('bad-parameters', `dropout ${delta} and corrupt ${gamma} rates must be in [0, 1) with a sum below 1`);
  }
  const log2n = Math.log2(n);
  for (let k = 2; k < n - 1; k += 2) {
    if ((k / 2) * Math.log2(delta + gamma) + log2n > -sigma) continue; // connectivity
    for (let t = k / 2 + 1; t <= k; t++) {
      if (log2BinomialTailAtLeast(k, gamma, t) > -sigma - log2n) continue; // security
      if (log2BinomialTailAtLeast(k, delta, k - t + 1) > -eta) break; // correctness: P(survivors <= t−1) = P(dropped >= k−t+1)
      return { neighbours: k, threshold: t, complete: false };
    }
  }
  // Complete graph: the smallest t above k/2 that a coalition of floor(γn) colluders cannot reach.
  const k = n - 1;
  const t = Math.min(k, Math.max(Math.floor(k / 2) + 1, Math.floor(gamma * n) + 1));
  return { neighbours: k, threshold: t, complete: true };
}
