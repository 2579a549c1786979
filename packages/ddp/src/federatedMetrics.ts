/**
 * Federated evaluation as extra coordinates of the DDG input (issue 14 §5). Each mini-client's bounded metric
 * sums — evaluation of the global model it received on its local held-out split (loss sum, correct count,
 * example count) and of its training (the same three on its training split, after training) — ride as the
 * last FEDERATED_METRICS coordinates of the vector it DDG-encodes, after the d model coordinates. The
 * coordinator only ever sees their sum over the round's parties, with the same discrete Gaussian noise as
 * every model coordinate.
 *
 * Why ε covers them with no extra accounting: Kairouz, Liu & Steinke (ICML 2021), Theorem 1, bounds the
 * privacy of the whole encoded vector given only that each client's input has L2 norm ≤ c before the
 * encoding steps of Algorithm 1 (rotate, scale by 1/γ, conditional rounding to the norm bound Δ₂, add
 * N_Z(0, σ²/γ²), reduce mod 2^B). So the split keeps the concatenation [update ‖ metrics] within c: each sum is
 * clamped to [0, 1] after dividing by its bound (at most N_max examples counted, per-example loss clipped to
 * L_max: ÷N_max for counts, ÷(N_max·L_max) for loss sums) and scaled by c_m/√k with c_m = ρ·c, so the metric
 * part has norm ≤ c_m; the update is clipped to √(c² − c_m²). encodeDdg's own clip to c then changes nothing,
 * and the accountant and the padding use the extended dimension d + k (planDdg).
 */
import { DdpParameterError } from './errors.ts';
import { clipFactor, l2Norm } from './encode.ts';

/** k: the metric coordinates appended to the model update (their order: METRIC_NAMES). */
export const FEDERATED_METRICS = 6;

/** The order of the k coordinates after the d model coordinates. */
export const METRIC_NAMES = ['lossSum', 'correct', 'examples', 'trainLossSum', 'trainCorrect', 'trainExamples'] as const;

/**
 * Below this relative margin under c the concatenation stays, so that float rounding in the norms can never
 * make encodeDdg's clip (a factor min(1, c/‖x‖)) rescale it. The guarantee itself rests on that clip.
 */
export const NORM_MARGIN = 2 ** -32;

/** The public bounds the client encodes with and the coordinator decodes with (the task's `evaluation`). */
export interface MetricBounds {
  /** N_max: the most examples a mini-client counts in each split. */
  readonly maxExamples: number;
  /** L_max: each example's loss (nats) is clipped to this. */
  readonly maxLoss: number;
  /** ρ ∈ (0, 1): the metric part's share of the clip norm, c_m = ρ·c. */
  readonly normShare: number;
}

/** One split's sums: Σ min(ℓᵢ, L_max), correct predictions and examples counted (at most N_max). */
export interface MetricSums {
  readonly lossSum: number;
  readonly correct: number;
  readonly examples: number;
}

/** What one mini-client (or, summed, a round) contributes: its held-out and training sums. */
export interface FederatedSums {
  /** The global model it received, on its held-out split. */
  readonly heldOut: MetricSums;
  /** Its trained model, on its training split. */
  readonly train: MetricSums;
}

export function checkMetricBounds(b: MetricBounds): void {
  if (!Number.isInteger(b.maxExamples) || b.maxExamples < 1)
    throw new DdpParameterError('maxExamples', `maxExamples must be a positive integer, got ${b.maxExamples}`);
  if (!(Number.isFinite(b.maxLoss) && b.maxLoss > 0)) throw new DdpParameterError('maxLoss', `maxLoss must be a positive finite number, got ${b.maxLoss}`);
  if (!(b.normShare > 0 && b.normShare < 1)) throw new DdpParameterError('normShare', `normShare must be in (0, 1), got ${b.normShare}`);
}

/** c_m = ρ·c·(1 − NORM_MARGIN): the largest norm of the metric coordinates. */
export function metricNormBound(clip: number, b: MetricBounds): number {
  return clip * b.normShare * (1 - NORM_MARGIN);
}

/** √(c² − (ρc)²)·(1 − NORM_MARGIN): what the model update is clipped to when metrics ride along. */
/** The model update's clip inside a DDG input: c alone, or its share updateClip(c, b) beside the metrics. */
export function modelUpdateClip(clip: number, b: MetricBounds | null | undefined): number {
  return b ? updateClip(clip, b) : clip;
}

export function updateClip(clip: number, b: MetricBounds): number {
  return clip * Math.sqrt(1 - b.normShare * b.normShare) * (1 - NORM_MARGIN);
}

/** Each metric's bound in its own units, in METRIC_NAMES order: N_max·L_max for loss sums, N_max for counts. */
function metricBounds(b: MetricBounds): Float64Array {
  const loss = b.maxExamples * b.maxLoss;
  return Float64Array.of(loss, b.maxExamples, b.maxExamples, loss, b.maxExamples, b.maxExamples);
}

/** The sums in METRIC_NAMES order. */
export function metricVector(s: FederatedSums): Float64Array {
  return Float64Array.of(s.heldOut.lossSum, s.heldOut.correct, s.heldOut.examples, s.train.lossSum, s.train.correct, s.train.examples);
}

/**
 * Writes [update clipped to updateClip ‖ the scaled metric coordinates] into `out` (length d + k) and returns
 * the update's norm before clipping. Every metric is clamped into [0, its bound] first, so for any finite
 * input ‖out‖ ≤ c·(1 − NORM_MARGIN); a non-finite update or metric is refused (it would poison the sum).
 */
export function appendFederatedMetrics(
  update: ArrayLike<number>,
  sums: FederatedSums,
  clip: number,
  b: MetricBounds,
  out: Float64Array = new Float64Array(update.length + FEDERATED_METRICS),
): { readonly out: Float64Array; readonly inputNorm: number } {
  checkMetricBounds(b);
  const d = update.length;
  if (out.length !== d + FEDERATED_METRICS)
    throw new DdpParameterError('out', `out has ${out.length} values, expected d + ${FEDERATED_METRICS} = ${d + FEDERATED_METRICS}`);
  const inputNorm = l2Norm(update);
  if (!Number.isFinite(inputNorm)) throw new DdpParameterError('update', 'update contains NaN or infinite values');
  const s = clipFactor(inputNorm, updateClip(clip, b));
  for (let i = 0; i < d; i++) out[i] = update[i]! * s;
  const values = metricVector(sums);
  const bounds = metricBounds(b);
  const scale = metricNormBound(clip, b) / Math.sqrt(FEDERATED_METRICS);
  for (let i = 0; i < FEDERATED_METRICS; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new DdpParameterError(METRIC_NAMES[i]!, `${METRIC_NAMES[i]} must be finite, got ${v}`);
    // Clamped to [0, 1] after normalising: the norm bound holds whatever the trainer reported.
    out[d + i] = Math.min(1, Math.max(0, v / bounds[i]!)) * scale;
  }
  return { out, inputNorm };
}

/**
 * The metric totals of a decoded sum: `decodedSum` is decodeDdg's output at contributors = 1 (the sum over
 * the round's contributions, d + k values, not divided by anything); its last k values, unscaled. They carry
 * the round's noise and quantisation error, so they may be negative or above their bounds: not clamped here.
 */
export function federatedTotals(decodedSum: ArrayLike<number>, modelDim: number, clip: number, b: MetricBounds): FederatedSums {
  checkMetricBounds(b);
  if (decodedSum.length !== modelDim + FEDERATED_METRICS) {
    throw new DdpParameterError('sum', `the decoded sum has ${decodedSum.length} values, expected d + ${FEDERATED_METRICS} = ${modelDim + FEDERATED_METRICS}`);
  }
  const bounds = metricBounds(b);
  const scale = metricNormBound(clip, b) / Math.sqrt(FEDERATED_METRICS);
  const t = Array.from({ length: FEDERATED_METRICS }, (_, i) => (decodedSum[modelDim + i]! / scale) * bounds[i]!);
  return {
    heldOut: { lossSum: t[0]!, correct: t[1]!, examples: t[2]! },
    train: { lossSum: t[3]!, correct: t[4]!, examples: t[5]! },
  };
}

/**
 * How far one coordinate of the decoded sum is from the exact sum in metric units, per grid unit of error:
 * a total's error is (coordinate error)·bound/scale. For tests and the documentation of the bound.
 */
export function metricUnitsPerCoordinate(clip: number, b: MetricBounds): { readonly loss: number; readonly count: number } {
  const scale = metricNormBound(clip, b) / Math.sqrt(FEDERATED_METRICS);
  return { loss: (b.maxExamples * b.maxLoss) / scale, count: b.maxExamples / scale };
}
