/**
 * A run's privacy books: the ledger everyone's ε is read from (amplified by Poisson sampling where it holds),
 * the ledger against the coordinator (no amplification: it knows the sample; ddgPlan.ts), and Σₜ pₜ of
 * Poisson selection's redraws, which adds (1 + e^ε)·Σₜ pₜ to δ (poissonSelection.ts). Immutable: `charge`
 * returns the next books, so an engine step that fails halfway leaves the old ones in force.
 *
 * A round attempt is charged once, when its unmask requests go out (from then on the coordinator may hold t
 * shares of every secret the sum needs), whether it is then released or aborted; n is the parties whose
 * inputs the sum holds (never the mini-clients they declare).
 */
import { RdpLedger } from '@hushfl/ddp';
import { roundRdp, roundRdpAgainstCoordinator, type DdgPlan } from './ddgPlan.ts';
import { selectionDelta } from './poissonSelection.ts';

/** What is persisted when a round attempt is charged: the cumulative books after it. */
export interface LedgerEntry {
  readonly rdp: number[];
  readonly epsilon: number;
  readonly selectionShortfall: number;
  /** The cumulative RDP against the coordinator (absent in entries written before it was kept: rebuilt then). */
  readonly rdpCoordinator?: number[];
  /** How many charged attempts the entry holds (absent in older entries: one per completed round). */
  readonly charges?: number;
}

export interface PrivacySpentNow {
  /** ε for everyone who sees only the models; null while no noise was spent. */
  readonly epsilon: number | null;
  readonly epsilonVsCoordinator: number | null;
  readonly deltaSelection: number;
}

export class RunPrivacy {
  private constructor(
    readonly plan: DdgPlan,
    private readonly ledger: RdpLedger,
    private readonly coordinatorLedger: RdpLedger,
    readonly selectionShortfall: number,
    readonly epsilon: number | null,
  ) {}

  static fresh(plan: DdgPlan): RunPrivacy {
    return new RunPrivacy(plan, new RdpLedger(), new RdpLedger(), 0, null);
  }

  /**
   * The books after a restart: the last ledger entry, with its coordinator-side ledger; an entry from before
   * that was kept has it rebuilt from `released`, the accountant's n of every released round.
   */
  static restore(plan: DdgPlan, last: (LedgerEntry & { rounds: number }) | undefined, released: readonly number[]): RunPrivacy {
    const ledger = last ? new RdpLedger(last.rdp, last.rounds) : new RdpLedger();
    let coordinator: RdpLedger;
    if (last?.rdpCoordinator) coordinator = new RdpLedger(last.rdpCoordinator, last.rounds);
    else {
      coordinator = new RdpLedger();
      for (const n of released) {
        const rdp = roundRdpAgainstCoordinator(plan, n);
        if (rdp) coordinator.add(rdp);
      }
    }
    return new RunPrivacy(plan, ledger, coordinator, last?.selectionShortfall ?? 0, last?.epsilon ?? null);
  }

  /** ε another round could spend at n_min parties, when that would pass the budget (else null). */
  budgetExceededBy(minParties: number): number | null {
    const worst = roundRdp(this.plan, minParties);
    if (!worst || this.plan.epsilonBudget === null) return null;
    const next = this.ledger.spentIfAdded(worst, this.plan.delta).epsilon;
    return next > this.plan.epsilonBudget * (1 + 1e-6) ? next : null;
  }

  /**
   * The books after one more charged round attempt whose sum holds the inputs of `parties` parties and whose
   * first Poisson draw risked `shortfall` (each charged attempt is one more mechanism in the union bound).
   */
  charge(parties: number, shortfall: number | null): { next: RunPrivacy; entry: LedgerEntry | null } {
    const rdp = roundRdp(this.plan, parties);
    const ledger = new RdpLedger(this.ledger.rdp(), this.ledger.rounds);
    if (rdp) ledger.add(rdp);
    const coordinator = new RdpLedger(this.coordinatorLedger.rdp(), this.coordinatorLedger.rounds);
    const coordinatorRdp = roundRdpAgainstCoordinator(this.plan, parties);
    if (coordinatorRdp) coordinator.add(coordinatorRdp);
    const epsilon = rdp ? ledger.spent(this.plan.delta).epsilon : null;
    const selectionShortfall = this.selectionShortfall + (shortfall ?? 0);
    const next = new RunPrivacy(this.plan, ledger, coordinator, selectionShortfall, epsilon);
    const entry: LedgerEntry | null = rdp
      ? { rdp: ledger.rdp(), epsilon: epsilon!, selectionShortfall, rdpCoordinator: coordinator.rdp(), charges: ledger.rounds }
      : null;
    return { next, entry };
  }

  /** ε, ε against the coordinator and δ's redraw term after the released rounds so far (PRIVACY.md). */
  spent(): PrivacySpentNow {
    return {
      epsilon: this.epsilon,
      epsilonVsCoordinator: this.coordinatorLedger.rounds > 0 ? this.coordinatorLedger.spent(this.plan.delta).epsilon : null,
      deltaSelection: this.epsilon === null ? 0 : selectionDelta(this.selectionShortfall, this.epsilon),
    };
  }
}
