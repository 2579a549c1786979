/**
 * What Poisson client sampling (each client in a round's sample independently with probability q) costs when
 * the coordinator may only run a round with enough contributions.
 *
 * The coordinator redraws a sample that has fewer than n_min contributions or fewer than two clients (SecAgg
 * needs two), so the released sample is a Poisson sample conditioned on being large enough, which is not
 * what the Zhu–Wang amplification bound assumes. The two differ in total variation by at most
 * p = P(the first draw is too small): on every other outcome they coincide. So if the unconditioned
 * mechanism is (ε, δ)-DP, T such rounds are (ε, δ + (1 + e^ε)·Σₜ pₜ)-DP (couple each round's first draw,
 * union bound over rounds). `poissonShortfallProbability` computes pₜ exactly for the clients online.
 */

/**
 * P(Σᵢ kᵢ·Bᵢ < minContributions or Σᵢ Bᵢ < 2) for independent Bᵢ ~ Bernoulli(q), where kᵢ is client i's
 * contributions (its mini-clients). Dynamic programming over (clients drawn, capped at 2) × (contributions,
 * capped at minContributions); the result sums the short states directly, so a tiny p keeps its precision.
 */
export function poissonShortfallProbability(contributions: readonly number[], q: number, minContributions: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`sample rate must be in [0, 1], got ${q}`);
  if (!Number.isInteger(minContributions) || minContributions < 1) throw new RangeError(`minContributions must be a positive integer, got ${minContributions}`);
  const m = minContributions;
  const width = m + 1;
  let dist = new Float64Array(3 * width);
  let next = new Float64Array(3 * width);
  dist[0] = 1;
  for (const k of contributions) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`contributions must be positive integers, got ${k}`);
    next.fill(0);
    for (let c = 0; c < 3; c++) {
      for (let s = 0; s <= m; s++) {
        const p = dist[c * width + s]!;
        if (p === 0) continue;
        next[c * width + s]! += p * (1 - q);
        next[Math.min(2, c + 1) * width + Math.min(m, s + k)]! += p * q;
      }
    }
    [dist, next] = [next, dist];
  }
  let short = 0;
  for (let i = 0; i < dist.length; i++) if (i !== 2 * width + m) short += dist[i]!;
  return Math.min(1, short);
}

/** The extra δ of T rounds' conditioning: (1 + e^ε)·Σₜ pₜ, capped at 1. */
export function selectionDelta(shortfallSum: number, epsilon: number): number {
  return Math.min(1, shortfallSum * (1 + Math.exp(epsilon)));
}

/**
 * The default limit on a round's shortfall p: small enough that T rounds add at most δ more, (1 + e^ε)·T·p ≤ δ,
 * at the run's target ε (or δ / T when the run has none: its ε is known only as it is spent).
 */
export function defaultMaxShortfall(delta: number, rounds: number, epsilonBudget: number | null): number {
  return delta / rounds / (epsilonBudget === null ? 1 : 1 + Math.exp(epsilonBudget));
}
