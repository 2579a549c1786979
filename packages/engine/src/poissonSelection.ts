/**
 * What Poisson client sampling (each party in a round's sample independently with probability q) costs when
 * the coordinator may only run a round with enough parties.
 *
 * The coordinator redraws a sample that has fewer than n_min parties (never fewer than three: SecAgg needs
 * them), so the released sample is a Poisson sample conditioned on being large enough, which is not what
 * the Zhu–Wang amplification bound assumes. The two differ in total variation by at most
 * p = P(the first draw is too small): on every other outcome they coincide. So if the unconditioned
 * mechanism is (ε, δ)-DP, T such rounds are (ε, δ + (1 + e^ε)·Σₜ pₜ)-DP (couple each round's first draw,
 * union bound over rounds). `poissonShortfallProbability` computes pₜ exactly for the parties online. It
 * counts parties (connections with their own keys), never the mini-clients a party declares: n_min is in
 * parties (issue 12 §2).
 */

/**
 * P(Σᵢ Bᵢ < minParties) for `parties` independent Bᵢ ~ Bernoulli(q): the binomial tail, by dynamic
 * programming over the parties drawn (capped at minParties); the result sums the short states directly, so a
 * tiny p keeps its precision.
 */
export function poissonShortfallProbability(parties: number, q: number, minParties: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`sample rate must be in [0, 1], got ${q}`);
  if (!Number.isInteger(minParties) || minParties < 1) throw new RangeError(`minParties must be a positive integer, got ${minParties}`);
  if (!Number.isInteger(parties) || parties < 0) throw new RangeError(`parties must be a non-negative integer, got ${parties}`);
  const m = minParties;
  let dist = new Float64Array(m + 1);
  let next = new Float64Array(m + 1);
  dist[0] = 1;
  for (let i = 0; i < parties; i++) {
    next.fill(0);
    for (let s = 0; s <= m; s++) {
      const p = dist[s]!;
      if (p === 0) continue;
      next[s]! += p * (1 - q);
      next[Math.min(m, s + 1)]! += p * q;
    }
    [dist, next] = [next, dist];
  }
  let short = 0;
  for (let s = 0; s < m; s++) short += dist[s]!;
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
