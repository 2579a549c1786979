/**
 * Who takes part in a round. Fixed-size selection draws idle parties uniformly without replacement (a CSPRNG
 * Fisher–Yates shuffle) until the round has n_min parties and its contributions; Poisson selection keeps each
 * idle party independently with probability q. Under Poisson selection a round's first draw waits until the
 * chance that it is too small (and must be redrawn) is below the run's limit: that chance is what the
 * released round adds to δ (poissonSelection.ts, docs/PRIVACY.md).
 *
 * n_min counts parties — connections with their own identity and keys — never the mini-clients a party
 * declares: a party that colludes with the coordinator adds no noise for any of its mini-clients, so only
 * distinct parties can be the noise the accountant counts on (issue 12 §2). A party's mini-clients still
 * each add a noise share and an update.
 */
import { shuffleInPlace, type RandomWords } from '@hushfl/ddp';
import type { RunConfig } from '@hushfl/protocol';
import { defaultMaxShortfall, poissonShortfallProbability } from './poissonSelection.ts';
import type { Party } from './roundEngine.ts';

/** SecAgg needs at least three parties: with two, each learns the other's input from the sum. */
export const MIN_SECAGG_PARTIES = 3;

/** n_min in parties: the run's minClients, and never fewer than three. */
export function minParties(c: RunConfig): number {
  return Math.max(MIN_SECAGG_PARTIES, c.minClients);
}

/** Expected contributions per round: clientsPerRound, or q·population under Poisson sampling. */
export function expectedClientsPerRound(c: RunConfig): number {
  return 'clientsPerRound' in c.selection ? c.selection.clientsPerRound : Math.max(1, Math.round(c.selection.sampleRate * c.selection.population));
}

export type Selection =
  | { readonly kind: 'selected'; readonly parties: Party[]; readonly shortfall: number | null }
  /** Too few clients for a draw now; with Poisson selection, `shortfall` and `limit` say why it waits. */
  | { readonly kind: 'wait'; readonly shortfall: number | null; readonly limit?: number };

export interface SelectionInput {
  readonly config: RunConfig;
  readonly delta: number;
  readonly epsilonBudget: number | null;
  /** Idle clients in a fixed order, contributions already capped at maxMiniClients (shuffled in place). */
  readonly free: Party[];
  /** p of this round's first Poisson draw, once it was made (null before it: then the limit applies). */
  readonly roundShortfall: number | null;
  readonly random: RandomWords;
}

export function selectParties(s: SelectionInput): Selection {
  const cfg = s.config;
  const free = s.free;
  const least = minParties(cfg);
  if ('sampleRate' in cfg.selection) {
    let shortfall = s.roundShortfall;
    if (shortfall === null) {
      shortfall = poissonShortfallProbability(free.length, cfg.selection.sampleRate, least);
      const limit = cfg.selection.maxShortfall ?? defaultMaxShortfall(s.delta, cfg.rounds, s.epsilonBudget);
      if (shortfall > limit) return { kind: 'wait', shortfall, limit };
    }
    const threshold = cfg.selection.sampleRate * 4294967296;
    const picked = free.filter(() => s.random.next() < threshold);
    return picked.length >= least ? { kind: 'selected', parties: picked, shortfall } : { kind: 'wait', shortfall };
  }
  const picked = selectFixed(free, expectedClientsPerRound(cfg), s.random, least);
  return picked ? { kind: 'selected', parties: picked, shortfall: null } : { kind: 'wait', shortfall: null };
}

/**
 * Random parties until the round has `least` parties and `want` contributions, or null when too few are
 * free. A party brings at most the contributions that keep the total at `want` while each party still
 * needed for `least` brings one: a round never holds more contributions than `want` (the modular headroom is
 * sized for it) unless `least` parties alone exceed it.
 */
export function selectFixed(free: Party[], want: number, random: RandomWords, least = MIN_SECAGG_PARTIES): Party[] | null {
  const available = free.reduce((sum, p) => sum + p.contributions, 0);
  if (available < want || free.length < least) return null;
  shuffleInPlace(free, random);
  const picked: Party[] = [];
  let total = 0;
  for (const p of free) {
    if (total >= want && picked.length >= least) break;
    const stillNeeded = Math.max(0, least - picked.length - 1);
    const contributions = Math.max(1, Math.min(p.contributions, want - total - stillNeeded));
    picked.push(contributions === p.contributions ? p : { ...p, contributions });
    total += contributions;
  }
  return total >= want && picked.length >= least ? picked : null;
}
