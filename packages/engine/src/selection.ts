/**
 * Who takes part in a round. Fixed-size selection draws idle clients uniformly without replacement (a CSPRNG
 * Fisher–Yates shuffle) until the round's contributions are reached; Poisson selection keeps each idle client
 * independently with probability q. Under Poisson selection a round's first draw waits until the chance that
 * it is too small (and must be redrawn) is below the run's limit: that chance is what the released round adds
 * to δ (poissonSelection.ts, docs/PRIVACY.md).
 */
import { shuffleInPlace, type RandomWords } from '@hushfl/ddp';
import type { RunConfig } from '@hushfl/protocol';
import { defaultMaxShortfall, poissonShortfallProbability } from './poissonSelection.ts';
import type { Party } from './roundEngine.ts';

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
  if ('sampleRate' in cfg.selection) {
    let shortfall = s.roundShortfall;
    if (shortfall === null) {
      shortfall = poissonShortfallProbability(
        free.map((p) => p.contributions),
        cfg.selection.sampleRate,
        cfg.minClients,
      );
      const limit = cfg.selection.maxShortfall ?? defaultMaxShortfall(s.delta, cfg.rounds, s.epsilonBudget);
      if (shortfall > limit) return { kind: 'wait', shortfall, limit };
    }
    const threshold = cfg.selection.sampleRate * 4294967296;
    const picked = free.filter(() => s.random.next() < threshold);
    const total = picked.reduce((sum, p) => sum + p.contributions, 0);
    return total >= cfg.minClients && picked.length >= 2 ? { kind: 'selected', parties: picked, shortfall } : { kind: 'wait', shortfall };
  }
  const picked = selectFixed(free, expectedClientsPerRound(cfg), s.random);
  return picked ? { kind: 'selected', parties: picked, shortfall: null } : { kind: 'wait', shortfall: null };
}

/** Random parties until `want` contributions are reached, or null when too few are free (at least two). */
export function selectFixed(free: Party[], want: number, random: RandomWords): Party[] | null {
  const available = free.reduce((sum, p) => sum + p.contributions, 0);
  if (available < want || free.length < 2) return null;
  shuffleInPlace(free, random);
  const picked: Party[] = [];
  let total = 0;
  for (const p of free) {
    if (total >= want) break;
    picked.push(p);
    total += p.contributions;
  }
  return picked.length >= 2 ? picked : null;
}
