/**
 * Federated evaluation on the coordinator's side (issue 14 §5). Clients append bounded metric sums to their
 * updates as FEDERATED_METRICS extra DDG coordinates (@hushfl/ddp federatedMetrics.ts); the coordinator plans
 * the DDG mechanism for d + k coordinates, and from a released sum it reads only the totals over the round's
 * parties — noised like every model coordinate — and turns them into the round's federated accuracy and loss.
 */
import { FEDERATED_METRICS, type FederatedSums } from '@hushfl/ddp';
import type { RunConfig, TaskMessage } from '@hushfl/protocol';
import type { FederatedMetrics } from './records.ts';

/** A task's federated evaluation parameters (the task message's `evaluation`, when on). */
export type FederatedEvaluation = NonNullable<TaskMessage['evaluation']>;

/** The run's federated evaluation from its config, or null when off (`fraction: 0`, or a config from before the key). */
export function configuredEvaluation(config: RunConfig): FederatedEvaluation | null {
  const e = (config as Partial<RunConfig>).evaluation;
  if (!e || !(e.fraction > 0)) return null;
  return { fraction: e.fraction, maxExamples: e.maxExamples, maxLoss: e.maxLoss, normShare: e.normShare };
}

/** The DDG coordinates a run adds to the model's: k with federated evaluation, else none. */
export function federatedCoordinates(config: RunConfig): number {
  return configuredEvaluation(config) ? FEDERATED_METRICS : 0;
}

/**
 * The federated evaluation a round of this run uses: the config's, when the run's DDG plan was made for
 * d + k coordinates; none when it was made for d (a run planned before federated evaluation existed). Any
 * other dimension is a plan that does not fit the model: refused.
 */
export function roundEvaluation(config: RunConfig, ddgDim: number, modelDim: number): FederatedEvaluation | null {
  const configured = configuredEvaluation(config);
  if (ddgDim === modelDim) return null;
  if (configured && ddgDim === modelDim + FEDERATED_METRICS) return configured;
  throw new Error(
    `the run's DDG dimension ${ddgDim} does not fit the model (d = ${modelDim}${configured ? `, plus ${FEDERATED_METRICS} federated evaluation coordinates` : ''})`,
  );
}

/** Σ a / Σ examples, clamped into [lo, hi]; null when the noisy example count is below one. */
function ratio(sum: number, examples: number, lo: number, hi: number): number | null {
  if (!(examples >= 1)) return null;
  return Math.min(hi, Math.max(lo, sum / examples));
}

/**
 * A round's federated metrics from its decoded totals. The noise can push a total below zero or a ratio out
 * of range, so the ratios are clamped (accuracy to [0, 1], loss to ≥ 0) and the raw totals kept beside them.
 */
export function federatedMetricsOf(t: FederatedSums): FederatedMetrics {
  return {
    accuracy: ratio(t.heldOut.correct, t.heldOut.examples, 0, 1),
    loss: ratio(t.heldOut.lossSum, t.heldOut.examples, 0, Number.POSITIVE_INFINITY),
    examples: t.heldOut.examples,
    correct: t.heldOut.correct,
    lossSum: t.heldOut.lossSum,
    trainAccuracy: ratio(t.train.correct, t.train.examples, 0, 1),
    trainLoss: ratio(t.train.lossSum, t.train.examples, 0, Number.POSITIVE_INFINITY),
    trainExamples: t.train.examples,
    trainCorrect: t.train.correct,
    trainLossSum: t.train.lossSum,
  };
}
