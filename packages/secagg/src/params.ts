/**
 * Choosing the SecAgg+ degree k and threshold t (Bell et al. CCS 2020, §4 and the theorem on the graph
 * parameters: k = O(log n) suffices). Each honest neighbour of a client v reveals for v either its share of
 * b_v or of s_v^SK; a neighbour colluding with the coordinator reveals both. With c colluders among v's k
 * neighbours, a coordinator that shows different survivor sets to different honest neighbours collects t
 * shares of both secrets — v's exact masked-in input — as soon as c ≥ 2t − k (t from the colluders plus at
 * most k − c honest answers split in two). The ConsistencyCheck does not stop this on a sparse graph.
 *
 * For n clients, dropout rate δ and a fraction γ of clients colluding with the coordinator, each failing
 * independently, the choice is the smallest even k (else the complete graph k = n − 1, Bonawitz et al. 2017)
 * with a t such that
 * (i)   n · P[Bin(k, γ) ≥ 2t − k] ≤ 2^-σ        no client's two secrets are both recoverable (union over n);
 * (ii)  n · (δ + γ)^(k/2) ≤ 2^-σ               no run of k/2 bad clients on the ring, so the honest survivors
 *                                               stay connected (moot on the complete graph);
 * (iii) P[Bin(k, 1 − δ) < t] ≤ 2^-η            a client keeps t surviving neighbours (liveness, per client).
 * σ = 40, η = 20. t is the smallest that (i) needs (the most slack for (iii)). (iii) is liveness, not privacy:
 * when no k meets it, the candidate (k, t_(i)) with the least per-client failure is taken and its abort
 * probability reported instead of refusing. `abortProbability` is the round's: min(1, n·P[Bin(k,1−δ) < t]),
 * a union bound over the clients whose secrets may be needed; `clientAbortProbability` is the per-client term.
 *
 * With an absolute bound `maxColluders: C` (small rounds cannot meet 2^-σ at γ = 10 %) (i) becomes the
 * deterministic C < 2t − k, and (ii) is n·(δ + C/n)^(k/2) ≤ 2^-σ: the C colluders sit at uniformly random
 * ring positions (the graph seed is not the coordinator's choice), and that sampling without replacement is
 * negatively associated, so a fixed run of k/2 positions is all bad with probability at most (δ + C/n)^(k/2).
 */
import { SecAggError } from './errors.ts';

/** What a round must withstand: a corruption rate γ, or at most C colluders. */
export interface SecAggRequirement {
  /** Tolerated fraction of clients that drop out, δ (default 0.1). */
  readonly dropoutRate?: number;
  /** Fraction of clients that may collude with the coordinator, γ (default 0.1; unused with maxColluders). */
  readonly corruptRate?: number;
  /** At most this many clients collude with the coordinator (an absolute bound instead of γ). */
  readonly maxColluders?: number;
}

export interface SecAggParamOptions extends SecAggRequirement {
  /** Statistical security σ in bits (default 40). */
  readonly securityBits?: number;
  /** Liveness η in bits: a client keeps t surviving neighbours except with probability 2^-η (default 20). */
  readonly correctnessBits?: number;
}

export type SecAggGuarantee =
  /** Privacy holds except with probability 2^-securityBits per round against a γ fraction of colluders. */
  | { readonly kind: 'rate'; readonly corruptRate: number; readonly securityBits: number }
  /** Privacy holds (deterministically) against at most maxColluders colluding clients. */
  | { readonly kind: 'colluders'; readonly maxColluders: number };

/** The guarantee in words, as the CLI, the dashboard and the client page state it. */
export function describeSecAggGuarantee(g: SecAggGuarantee): string {
  return g.kind === 'rate'
    ? `up to a fraction γ = ${g.corruptRate} of clients colluding with the coordinator, except with probability 2^-${g.securityBits} per round`
    : `at most ${g.maxColluders} client${g.maxColluders === 1 ? '' : 's'} colluding with the coordinator (C < 2t − k: no chance involved)`;
}

/** The guarantee a run's SecAgg settings ask for (rate γ unless an absolute bound C is set). */
export function secaggGuaranteeOf(s: SecAggRequirement): SecAggGuarantee {
  return s.maxColluders !== undefined
    ? { kind: 'colluders', maxColluders: s.maxColluders }
    : { kind: 'rate', corruptRate: s.corruptRate ?? 0.1, securityBits: 40 };
}

export interface SecAggParams {
  readonly n: number;
  readonly neighbours: number;
  readonly threshold: number;
  /** True when k = n − 1 (every client is every other's neighbour). */
  readonly complete: boolean;
  /** δ. */
  readonly dropout: number;
  /** γ (rate guarantee) or C/n (colluders guarantee). */
  readonly corrupt: number;
  readonly guarantee: SecAggGuarantee;
  /** Upper bound on the round aborting for lack of t surviving neighbours: min(1, n · clientAbortProbability). */
  readonly abortProbability: number;
  /** P[Bin(k, 1 − δ) < t]: one client has fewer than t surviving neighbours. */
  readonly clientAbortProbability: number;
  /** Whether (iii) holds, clientAbortProbability <= 2^-η. */
  readonly live: boolean;
}

const LOG_FACT: number[] = [0];
function logFactorial(n: number): number {
  for (let i = LOG_FACT.length; i <= n; i++) LOG_FACT.push(LOG_FACT[i - 1]! + Math.log(i));
  return LOG_FACT[n]!;
}

/** ln P[Bin(k, p) = i] for 0 < p < 1. */
function lnPmf(k: number, p: number, i: number): number {
  return logFactorial(k) - logFactorial(i) - logFactorial(k - i) + i * Math.log(p) + (k - i) * Math.log1p(-p);
}

function lnAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/**
 * log2 P(Bin(k, p) >= t), summed term by term in log space (no cancellation, no underflow). Past the mode
 * the terms fall, so the sum stops once a term is below e^-50 of it: the k or fewer terms left add less than
 * k·e^-50 < 2^-52 relative for k < 2^20, below double precision. A tail from at or below the mode is
 * 1 − the opposite tail (that one is at most about 1/2, so log1p loses nothing).
 */
export function log2BinomialTailAtLeast(k: number, p: number, t: number): number {
  if (t <= 0) return 0;
  if (t > k) return -Infinity;
  if (p <= 0) return -Infinity;
  if (p >= 1) return 0;
  if (t <= Math.floor((k + 1) * p) && k < 2 ** 20) return Math.log1p(-(2 ** upperTail(k, 1 - p, k - t + 1))) / Math.LN2;
  return upperTail(k, p, t);
}

/** log2 P(Bin(k, p) >= t) for 0 < p < 1, 1 <= t <= k, summed upward from t. */
function upperTail(k: number, p: number, t: number): number {
  const mode = Math.floor((k + 1) * p);
  let acc = -Infinity;
  for (let i = t; i <= k; i++) {
    const term = lnPmf(k, p, i);
    acc = lnAdd(acc, term);
    if (i > mode && term < acc - 50 && k < 2 ** 20) break;
  }
  return Math.min(0, acc / Math.LN2);
}

/** Refuses k, t that break the protocol's structure for n clients. */
export function validateSecAggParams(n: number, neighbours: number, threshold: number): void {
  if (!Number.isInteger(n) || n < 3)
    throw new SecAggError('bad-parameters', `a SecAgg round needs at least 3 parties (with 2, each learns the other's input from the sum), got ${n}`);
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

interface Resolved {
  readonly delta: number;
  readonly gamma: number;
  readonly colluders: number | undefined;
  readonly sigma: number;
  readonly eta: number;
}

function resolve(n: number, o: SecAggParamOptions): Resolved {
  const delta = o.dropoutRate ?? 0.1;
  const gamma = o.corruptRate ?? 0.1;
  const colluders = o.maxColluders;
  const sigma = o.securityBits ?? 40;
  const eta = o.correctnessBits ?? 20;
  if (!Number.isInteger(n) || n < 3)
    throw new SecAggError('bad-parameters', `a SecAgg round needs at least 3 parties (with 2, each learns the other's input from the sum), got ${n}`);
  if (!(delta >= 0 && delta < 1)) throw new SecAggError('bad-parameters', `dropout rate δ must be in [0, 1), got ${delta}`);
  if (colluders === undefined) {
    if (!(gamma >= 0 && gamma < 1) || delta + gamma >= 1)
      throw new SecAggError('bad-parameters', `corrupt rate γ must be in [0, 1) with δ + γ < 1, got γ = ${gamma}, δ = ${delta}`);
  } else if (!Number.isInteger(colluders) || colluders < 0) {
    throw new SecAggError('bad-parameters', `maxColluders must be a non-negative integer, got ${colluders}`);
  }
  if (!(sigma > 0) || !(eta > 0)) throw new SecAggError('bad-parameters', `securityBits and correctnessBits must be positive, got ${sigma}, ${eta}`);
  return { delta, gamma, colluders, sigma, eta };
}

/** log2 of the probability that a ring position is bad (dropped or colluding), for (ii). */
function log2BadRate(n: number, r: Resolved): number {
  return Math.log2(Math.min(1, r.delta + (r.colluders === undefined ? r.gamma : r.colluders / n)));
}

/** (ii) for a sparse k. */
function connected(n: number, k: number, r: Resolved): boolean {
  return Math.log2(n) + (k / 2) * log2BadRate(n, r) <= -r.sigma;
}

/** The smallest t meeting (i) (or C < 2t − k) for degree k, or null when none does. */
function privacyThreshold(n: number, k: number, r: Resolved): number | null {
  if (r.colluders !== undefined) return r.colluders < k ? Math.floor((k + r.colluders) / 2) + 1 : null;
  if (r.gamma <= 0) return Math.floor(k / 2) + 1;
  // The smallest j >= 1 with log2 n + log2 P[Bin(k, γ) >= j] <= −σ, by bisection (the tail falls as j
  // grows). At or below ⌊kγ⌋ (at most the median) the tail is about 1/2 or more, so the search starts above.
  const ok = (j: number) => Math.log2(n) + log2BinomialTailAtLeast(k, r.gamma, j) <= -r.sigma;
  if (!ok(k)) return null;
  let lo = Math.max(0, Math.floor(k * r.gamma) - 1); // fails (or 0: below the range)
  let hi = k; // holds
  if (lo >= 1 && ok(lo)) lo = 0;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return Math.ceil((k + hi) / 2);
}

/** log2 P[Bin(k, 1 − δ) < t] = log2 P[Bin(k, δ) >= k − t + 1]. */
function log2ClientAbort(k: number, t: number, delta: number): number {
  return log2BinomialTailAtLeast(k, delta, k - t + 1);
}

function describeRequirement(n: number, r: Resolved): string {
  return r.colluders === undefined ? `n = ${n}, δ = ${r.delta}, γ = ${r.gamma} (2^-${r.sigma})` : `n = ${n}, δ = ${r.delta}, at most ${r.colluders} colluders`;
}

function result(n: number, k: number, t: number, r: Resolved): SecAggParams {
  const l2 = log2ClientAbort(k, t, r.delta);
  const client = 2 ** l2;
  return {
    n,
    neighbours: k,
    threshold: t,
    complete: k === n - 1,
    dropout: r.delta,
    corrupt: r.colluders === undefined ? r.gamma : r.colluders / n,
    guarantee: r.colluders === undefined ? { kind: 'rate', corruptRate: r.gamma, securityBits: r.sigma } : { kind: 'colluders', maxColluders: r.colluders },
    abortProbability: Math.min(1, n * client),
    clientAbortProbability: client,
    live: l2 <= -r.eta,
  };
}

/** Why no k <= n − 1 meets (i) and (ii), and what would. */
function refusal(n: number, r: Resolved): SecAggError {
  const what = describeRequirement(n, r);
  if (r.colluders !== undefined) {
    return new SecAggError(
      'bad-parameters',
      `no SecAgg+ parameters for ${what}: C < 2t − k needs C <= k − 1 <= n − 2 = ${n - 2}; use maxColluders <= ${n - 2} or more parties`,
    );
  }
  // (i) is weakest at t = k on the complete graph: n · γ^(n−1) <= 2^-σ.
  const exact = 2 ** ((-r.sigma - Math.log2(n)) / (n - 1));
  const unit = 10 ** (Math.floor(Math.log10(exact)) - 2);
  const gammaMax = Math.floor(exact / unit) * unit; // rounded down, so the γ named does work
  let nMin = n;
  while (Math.log2(nMin) + (nMin - 1) * Math.log2(r.gamma) > -r.sigma) nMin++;
  return new SecAggError(
    'bad-parameters',
    `no SecAgg+ parameters for ${what}: even the complete graph (k = t = ${n - 1}) has n·γ^k = 2^${(Math.log2(n) + (n - 1) * Math.log2(r.gamma)).toFixed(1)} > 2^-${r.sigma}. ` +
      `Would work: γ <= ${gammaMax.toPrecision(3)} at this n, n >= ${nMin} at this γ, or an absolute bound maxColluders <= ${n - 2}`,
  );
}

/** Sparse degrees beyond this are not searched (a full scan costs O(k log k) tails); the complete graph still is. */
const SPARSE_SCAN_LIMIT = 1 << 14;
const cache = new Map<string, SecAggParams | SecAggError>();

/**
 * The smallest even k (else k = n − 1) and the smallest t meeting (i) and (ii), preferring one that meets
 * (iii); throws SecAggError('bad-parameters') naming n, δ, γ (or C) and what would work when none exists.
 */
export function chooseSecAggParams(n: number, options: SecAggParamOptions = {}): SecAggParams {
  const r = resolve(n, options);
  const key = `${n}|${r.delta}|${r.gamma}|${r.colluders}|${r.sigma}|${r.eta}`;
  let hit = cache.get(key);
  if (!hit) {
    try {
      hit = search(n, r);
    } catch (e) {
      if (!(e instanceof SecAggError)) throw e;
      hit = e;
    }
    if (cache.size >= 1024) cache.clear();
    cache.set(key, hit);
  }
  if (hit instanceof SecAggError) throw new SecAggError(hit.code, hit.message);
  return hit;
}

function search(n: number, r: Resolved): SecAggParams {
  // Below kStart (ii) fails; for a rate, so does (i) even at t = k (n · γ^k > 2^-σ).
  const bad = log2BadRate(n, r);
  let kStart = bad < 0 ? 2 * Math.ceil((r.sigma + Math.log2(n)) / (-2 * bad)) : Infinity;
  if (r.colluders === undefined && r.gamma > 0) kStart = Math.max(kStart, Math.ceil((r.sigma + Math.log2(n)) / -Math.log2(r.gamma)));
  else if (r.colluders !== undefined) kStart = Math.max(kStart, r.colluders + 1);
  kStart = Math.max(2, kStart + (kStart % 2));
  const candidates: number[] = [];
  for (let k = kStart; k < n - 1 && k <= SPARSE_SCAN_LIMIT; k += 2) if (connected(n, k, r)) candidates.push(k);
  candidates.push(n - 1);
  let best: SecAggParams | null = null;
  for (const k of candidates) {
    const t = privacyThreshold(n, k, r);
    if (t === null) continue;
    const p = result(n, k, t, r);
    if (p.live) return p;
    if (best === null || p.clientAbortProbability < best.clientAbortProbability) best = p;
  }
  if (best) return best;
  throw refusal(n, r);
}

/**
 * Refuses (k, t) weaker than (i) and (ii) (or C < 2t − k) require for n clients — what clients check before
 * taking part and the coordinator checks of an operator's override — after the structural checks. Returns
 * the parameters with their guarantee and abort probability; (iii) is reported, never refused.
 */
export function checkSecAggParamsMeet(n: number, neighbours: number, threshold: number, requirement: SecAggParamOptions = {}): SecAggParams {
  validateSecAggParams(n, neighbours, threshold);
  const r = resolve(n, requirement);
  const k = Math.min(neighbours, n - 1);
  const t = threshold;
  const problems: string[] = [];
  if (r.colluders !== undefined) {
    if (!(r.colluders < 2 * t - k)) problems.push(`${r.colluders} colluders >= 2t − k = ${2 * t - k} recover both secrets of a client`);
  } else {
    const l2 = Math.log2(n) + log2BinomialTailAtLeast(k, r.gamma, 2 * t - k);
    if (l2 > -r.sigma) problems.push(`n·P[Bin(k, γ) >= 2t − k = ${2 * t - k}] = 2^${l2.toFixed(1)} > 2^-${r.sigma} (both secrets of a client recoverable)`);
  }
  if (k < n - 1 && !connected(n, k, r)) {
    const l2 = Math.log2(n) + (k / 2) * log2BadRate(n, r);
    problems.push(`n·(δ + ${r.colluders === undefined ? 'γ' : 'C/n'})^(k/2) = 2^${l2.toFixed(1)} > 2^-${r.sigma} (honest survivors may be cut apart)`);
  }
  if (problems.length > 0) {
    let minimum = '';
    try {
      const m = chooseSecAggParams(n, requirement);
      minimum = `; the minimum is k = ${m.neighbours}, t = ${m.threshold}`;
    } catch (e) {
      minimum = `; ${(e as Error).message}`;
    }
    throw new SecAggError('bad-parameters', `SecAgg+ k = ${k}, t = ${t} is too weak for ${describeRequirement(n, r)}: ${problems.join('; ')}${minimum}`);
  }
  return result(n, k, t, r);
}
