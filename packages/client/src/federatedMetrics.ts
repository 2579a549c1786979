/**
 * Federated evaluation on the client (issue 14 §5): each mini-client's local examples split into a held-out
 * part — a fixed `fraction`, the same examples every round, never trained on — and the rest it trains on; the
 * global model it receives is evaluated on the held-out part and its trained model on the training part, each
 * counting at most N_max examples with every example's loss clipped to L_max. The sums (FederatedSums) leave
 * the device only as extra coordinates of the DDG-encoded, masked SecAgg input (@hushfl/ddp
 * federatedMetrics.ts, runtime.ts): the coordinator learns totals over a round's parties, never these.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { MetricBounds, MetricSums } from '@hushfl/ddp';
import { evaluationSums, subset, type Dataset } from '@hushfl/tasks';

/**
 * h of n indices, evenly spread and deterministic: i is picked when ⌊(i+1)·h/n⌋ > ⌊i·h/n⌋ (exactly h of
 * them, one in every n/h). Integer arithmetic only, so every platform picks the same examples.
 */
export function evenlySpread(n: number, h: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(h) || h < 0 || h > n) throw new RangeError(`cannot pick ${h} of ${n} examples`);
  const out = new Uint32Array(h);
  let k = 0;
  for (let i = 0; i < n && k < h; i++) if (Math.floor(((i + 1) * h) / n) > Math.floor((i * h) / n)) out[k++] = i;
  return out;
}

export interface HeldOutSplit {
  /** ⌊n·fraction⌋ examples, evenly spread over the shard (never trained on). */
  readonly heldOut: Dataset;
  /** The rest, in their order: what the mini-client trains on. */
  readonly train: Dataset;
}

/** Splits kept per dataset (and fraction), so a round does not copy the shard again. */
const splits = new WeakMap<Dataset, Map<number, HeldOutSplit>>();

/**
 * The held-out split of a mini-client's examples: ⌊n·fraction⌋ of them, chosen by position only (evenlySpread),
 * so the same shard gives the same split in every round and on every device; at least one example is left to
 * train on. `fraction` is at most 1/2 (the config's bound).
 */
export function heldOutSplit(data: Dataset, fraction: number): HeldOutSplit {
  if (!(fraction > 0 && fraction <= 0.5)) throw new RangeError(`the held-out fraction must be in (0, 1/2], got ${fraction}`);
  let byFraction = splits.get(data);
  const kept = byFraction?.get(fraction);
  if (kept) return kept;
  const h = Math.min(Math.floor(data.n * fraction), Math.max(0, data.n - 1));
  const held = evenlySpread(data.n, h);
  const isHeld = new Uint8Array(data.n);
  for (const i of held) isHeld[i] = 1;
  const rest = new Uint32Array(data.n - h);
  let k = 0;
  for (let i = 0; i < data.n; i++) if (!isHeld[i]) rest[k++] = i;
  const split: HeldOutSplit = { heldOut: subset(data, held), train: h === 0 ? data : subset(data, rest) };
  if (!byFraction) {
    byFraction = new Map();
    splits.set(data, byFraction);
  }
  byFraction.set(fraction, split);
  return split;
}

/**
 * The bounded sums of `model` on `data`: at most `maxExamples` examples (evenly spread when there are more),
 * Σ min(ℓᵢ, maxLoss) of the softmax cross-entropy ℓᵢ of each, and how many it predicts right. A non-finite loss
 * (a diverged model) counts as maxLoss, so the sums are always finite and within their bounds.
 */
export async function boundedEvaluation(
  model: tfl.LayersModel,
  data: Dataset,
  bounds: Pick<MetricBounds, 'maxExamples' | 'maxLoss'>,
  batch = 512,
): Promise<MetricSums> {
  const counted = data.n > bounds.maxExamples ? subset(data, evenlySpread(data.n, bounds.maxExamples)) : data;
  const { lossSum, correct } = await evaluationSums(model, counted, bounds.maxLoss, batch);
  return { lossSum, correct, examples: counted.n };
}
