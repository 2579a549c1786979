/**
 * What a run remembers of itself: one record per round attempt, the run's identity and progress. The
 * engine keeps these in memory and hands them to the shell to persist; a restarted coordinator gives them
 * back to `RunEngine.resume`. server_metrics.json is built from them (metrics.ts).
 */
import type { SecAggStage } from '@hushfl/secagg';

export type RoundStatus = 'running' | 'completed' | 'aborted';

export interface RoundRecord {
  readonly round: number;
  readonly attempt: number;
  readonly status: RoundStatus;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  /** Parties selected (connections, each with its own keys). */
  readonly selected: number;
  /** Contributions (mini-clients) in the released sum: what the mean divides by under fixed-size selection. */
  readonly contributions: number | null;
  /**
   * Parties whose inputs the sum holds — the accountant's n — for a released attempt, and for an aborted one
   * that was charged (its unmask requests went out). Absent in records from before it was kept.
   */
  readonly parties?: number | null;
  /** The coordinator's own evaluation of the released model (null without a held-out set: `data: local`). */
  readonly accuracy: number | null;
  readonly loss: number | null;
  /**
   * Federated evaluation of a released attempt (issue 14 §5): totals over its parties, decoded from the noisy
   * sum; null without federated evaluation or for an attempt not released; absent in records from before it.
   */
  readonly federated?: FederatedMetrics | null;
  /** Adaptive clipping (issue 15 §3): the clip C_t of the updates in this attempt; null or absent with a fixed clip. */
  readonly clip?: number | null;
  /** b̄_t, the noisy share of contributions whose update was within C_t (released attempts; unclamped). */
  readonly clipFraction?: number | null;
  /** ε spent after this attempt: set for a released attempt and for an aborted one that was charged. */
  readonly epsilon: number | null;
  /** ε against the coordinator (no sampling amplification); equals epsilon without Poisson selection. */
  readonly epsilonVsCoordinator: number | null;
  /** The extra δ of Poisson selection's redraws, (1 + e^ε)·Σ p (poissonSelection.ts); 0 without. */
  readonly deltaSelection: number | null;
  readonly error: string | null;
  /**
   * Why this aborted attempt does not count toward maxAttempts (identified misbehaving parties, parties that
   * timed out, a store error); null or absent when it counts.
   */
  readonly excused?: string | null;
  readonly durationsMs: Partial<Record<SecAggStage, number>>;
  /** Where each dropped client dropped. */
  readonly droppedClients: Readonly<Record<string, SecAggStage>>;
  readonly bytesUp: number;
  readonly bytesDown: number;
}

/**
 * A round's federated evaluation: of the global model it sent — the model the round started from, i.e. the
 * previous round's release, while `accuracy` is the coordinator's evaluation of this round's — over the held-out
 * splits of the parties in the sum, and of their local training in this round. Every number comes from the released sum's metric coordinates, which carry
 * the same DDG noise as the model's: the totals may be off by that noise (even negative), so the ratios are
 * clamped (accuracy into [0, 1], loss ≥ 0) and null when the noisy example count is below one.
 */
export interface FederatedMetrics {
  /** Σ correct / Σ examples of the global model on the held-out splits. */
  readonly accuracy: number | null;
  /** Σ loss / Σ examples (per-example loss clipped to evaluation.maxLoss). */
  readonly loss: number | null;
  /** The raw noisy totals. */
  readonly examples: number;
  readonly correct: number;
  readonly lossSum: number;
  /** The same of the parties' trained models on their training splits. */
  readonly trainAccuracy: number | null;
  readonly trainLoss: number | null;
  readonly trainExamples: number;
  readonly trainCorrect: number;
  readonly trainLossSum: number;
}

export type { RunState } from '@hushfl/protocol';

export interface RunIdentity {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
  /** The model dimension d. */
  readonly dim: number;
}

/** How many clients dropped at each stage. */
export function droppedCounts(droppedAt: Readonly<Record<string, SecAggStage>>): Partial<Record<SecAggStage, number>> {
  const out: Partial<Record<SecAggStage, number>> = {};
  for (const s of Object.values(droppedAt)) out[s] = (out[s] ?? 0) + 1;
  return out;
}

/** A record of an attempt that has just started: nothing measured yet. */
export function emptyRecord(round: number, attempt: number, startedAt: number): RoundRecord {
  return {
    round,
    attempt,
    status: 'running',
    startedAt,
    finishedAt: null,
    selected: 0,
    contributions: null,
    accuracy: null,
    loss: null,
    federated: null,
    epsilon: null,
    epsilonVsCoordinator: null,
    deltaSelection: null,
    error: null,
    durationsMs: {},
    droppedClients: {},
    bytesUp: 0,
    bytesDown: 0,
  };
}
