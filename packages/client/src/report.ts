/**
 * Progress reports: what the page shows (LocalReport) and the projection the coordinator may receive
 * (wireReport), so a value computed from the client's data never goes out by accident.
 */
import type { Report } from '@hushfl/protocol';

/**
 * A progress report as the page sees it: the wire Report plus what was computed from this client's data
 * (training loss, accuracy, examples, steps, DP-SGD ε), which stays on the device — `wireReport` keeps only
 * the wire fields before anything goes to the coordinator.
 */
/**
 * Where a failed round failed. Only failures of the task itself (its parameters) and of SecAgg, whose messages
 * are about the protocol, go out with their message: one in training or encoding may quote the data (a tfjs
 * error naming a token id, a label), so the coordinator hears only that it failed there.
 */
export type FailureStep = 'task' | 'training' | 'encoding' | 'secagg';

export interface LocalReport extends Omit<Report, 'train'> {
  /** With phase 'failed': where (what `error` may tell the coordinator follows from it). */
  readonly failedAt?: FailureStep;
  /** Where training is (the page shows it); their count follows from the examples, so they stay here. */
  readonly epoch?: number;
  readonly batch?: number;
  readonly train?: NonNullable<Report['train']> & {
    readonly loss: number;
    readonly accuracy: number;
    readonly examples: number;
    readonly steps: number;
    readonly dpsgdEpsilon: number | null;
  };
}

/** The fields of a report the coordinator may see, copied one by one (so a new local field never leaks). */
export function wireReport(r: LocalReport): Report {
  return {
    roundId: r.roundId,
    phase: r.phase,
    // In tenths (the schema's steps): the exact fraction's denominator is the client's batch count.
    ...(r.progress !== undefined ? { progress: Math.round(Math.floor(r.progress * 10 + 1e-9)) / 10 } : {}),
    ...(r.train ? { train: { ms: r.train.ms, backend: r.train.backend } } : {}),
    ...(r.encodeMs !== undefined ? { encodeMs: r.encodeMs } : {}),
    ...(r.error !== undefined ? { error: wireError(r.error, r.failedAt) } : {}),
  };
}

function wireError(error: string, at: FailureStep | undefined): string {
  if (at === 'training') return 'local training failed (the reason stays on the device)';
  if (at === 'encoding') return 'encoding the update failed (the reason stays on the device)';
  if (at === undefined) return 'the round failed on the client (the reason stays on the device)';
  return error.slice(0, 500);
}
