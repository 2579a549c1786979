/**
 * Federated metrics as extra DDG coordinates: the concatenation [update ‖ metrics] stays within the clip c for
 * any input (so encodeDdg's clip never touches it and KLS21 Theorem 1 covers the metrics), and encode → modular
 * sum → decode over several clients gives back the metric totals — exactly up to quantisation without noise,
 * within the noise's spread with it. fast-check is not installed here: the property runs on a seeded ChaCha
 * generator, with adversarial cases (huge, negative, tiny, zero values) drawn alongside ordinary ones.
 */
import { describe, expect, it } from 'vitest';
import { decodeDdg } from './decode.ts';
import { encodeDdg, l2Norm } from './encode.ts';
import { DdpParameterError } from './errors.ts';
import {
  FEDERATED_METRICS,
  NORM_MARGIN,
  appendFederatedMetrics,
  federatedTotals,
  metricNormBound,
  metricUnitsPerCoordinate,
  updateClip,
  type FederatedSums,
  type MetricBounds,
} from './federatedMetrics.ts';
import type { DdgParams } from './params.ts';
import { chachaRandomWords, randomSeed, type RandomWords } from './random.ts';

function seeded(tag: number): RandomWords {
  const s = new Uint8Array(32);
  s[2] = tag;
  return chachaRandomWords(s);
}

const uniform = (rw: RandomWords) => rw.next() / 2 ** 32;

/** A value that is sometimes ordinary, sometimes far out of range (negative, huge, tiny, zero). */
function wild(rw: RandomWords, scale: number): number {
  const kind = rw.next() % 6;
  if (kind === 0) return 0;
  if (kind === 1) return -uniform(rw) * 10 ** (rw.next() % 12);
  if (kind === 2) return uniform(rw) * 10 ** (rw.next() % 300);
  if (kind === 3) return uniform(rw) * 1e-300;
  return uniform(rw) * scale;
}

function wildSums(rw: RandomWords, b: MetricBounds): FederatedSums {
  const split = () => ({ lossSum: wild(rw, b.maxExamples * b.maxLoss * 1.5), correct: wild(rw, b.maxExamples * 1.5), examples: wild(rw, b.maxExamples * 1.5) });
  return { heldOut: split(), train: split() };
}

describe('appendFederatedMetrics', () => {
  it('keeps ‖[update ‖ metrics]‖ ≤ c for any update and any metric values, so encodeDdg never rescales it', () => {
    const rw = seeded(1);
    for (let t = 0; t < 2000; t++) {
      const d = 1 + (rw.next() % 300);
      const clip = 10 ** ((rw.next() % 9) - 4) * (0.5 + uniform(rw));
      const b: MetricBounds = { maxExamples: 1 + (rw.next() % 5000), maxLoss: 0.01 + uniform(rw) * 50, normShare: 0.01 + uniform(rw) * 0.98 };
      const magnitude = 10 ** ((rw.next() % 40) - 20);
      const update = Float32Array.from({ length: d }, () => (uniform(rw) - 0.5) * magnitude);
      const { out, inputNorm } = appendFederatedMetrics(update, wildSums(rw, b), clip, b);
      expect(out.length).toBe(d + FEDERATED_METRICS);
      expect(inputNorm).toBe(l2Norm(update));
      const norm = l2Norm(out);
      expect(norm).toBeLessThanOrEqual(clip);
      // The parts: the update within √(c² − c_m²), the metrics within c_m = ρc, each coordinate in [0, c_m/√k].
      expect(l2Norm(out.subarray(0, d))).toBeLessThanOrEqual(updateClip(clip, b) * (1 + 1e-12));
      const metrics = out.subarray(d);
      expect(l2Norm(metrics)).toBeLessThanOrEqual(metricNormBound(clip, b) * (1 + 1e-12));
      for (const v of metrics) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual((metricNormBound(clip, b) / Math.sqrt(FEDERATED_METRICS)) * (1 + 1e-12));
      }
      // encodeDdg clips by min(1, c/‖x‖): with ‖x‖ ≤ c the factor is exactly 1.
      expect(norm <= clip ? 1 : clip / norm).toBe(1);
    }
  });

  it('with the worst case (every sum at its bound, the update far above the clip) the norm is c·(1 − margin)', () => {
    const b: MetricBounds = { maxExamples: 1000, maxLoss: 10, normShare: 0.25 };
    const full = { lossSum: 1e4, correct: 1000, examples: 1000 };
    const update = Float32Array.from({ length: 1000 }, (_, i) => (i % 2 ? 3 : -3));
    const { out } = appendFederatedMetrics(update, { heldOut: full, train: full }, 2, b);
    expect(l2Norm(out)).toBeLessThanOrEqual(2);
    expect(l2Norm(out)).toBeCloseTo(2 * (1 - NORM_MARGIN), 12);
    expect(l2Norm(out.subarray(1000))).toBeCloseTo(0.5 * (1 - NORM_MARGIN), 12);
  });

  it('leaves an update within √(c² − c_m²) as it is', () => {
    const b: MetricBounds = { maxExamples: 100, maxLoss: 5, normShare: 0.5 };
    const update = Float32Array.of(0.3, -0.4);
    const { out } = appendFederatedMetrics(update, { heldOut: { lossSum: 1, correct: 2, examples: 3 }, train: { lossSum: 0, correct: 0, examples: 0 } }, 1, b);
    expect(out[0]).toBeCloseTo(0.3, 7);
    expect(out[1]).toBeCloseTo(-0.4, 7);
  });

  it('refuses non-finite values and bad bounds with a typed error', () => {
    const b: MetricBounds = { maxExamples: 10, maxLoss: 1, normShare: 0.25 };
    const ok = { lossSum: 1, correct: 1, examples: 1 };
    const cases: [() => unknown, string][] = [
      [() => appendFederatedMetrics(Float32Array.of(Number.NaN), { heldOut: ok, train: ok }, 1, b), 'update'],
      [() => appendFederatedMetrics(Float32Array.of(1), { heldOut: { ...ok, correct: Number.NaN }, train: ok }, 1, b), 'correct'],
      [() => appendFederatedMetrics(Float32Array.of(1), { heldOut: ok, train: { ...ok, examples: Number.POSITIVE_INFINITY } }, 1, b), 'trainExamples'],
      [() => appendFederatedMetrics(Float32Array.of(1), { heldOut: ok, train: ok }, 1, { ...b, normShare: 1 }), 'normShare'],
      [() => appendFederatedMetrics(Float32Array.of(1), { heldOut: ok, train: ok }, 1, { ...b, maxExamples: 0.5 }), 'maxExamples'],
      [() => appendFederatedMetrics(Float32Array.of(1), { heldOut: ok, train: ok }, 1, b, new Float64Array(3)), 'out'],
    ];
    for (const [f, param] of cases) {
      try {
        f();
        expect.unreachable(`accepted bad ${param}`);
      } catch (e) {
        expect(e).toBeInstanceOf(DdpParameterError);
        expect((e as DdpParameterError).param).toBe(param);
      }
    }
  });
});

/** n clients' sums within the bounds, and their updates. */
function clients(n: number, d: number, b: MetricBounds, tag: number) {
  const rw = seeded(tag);
  return Array.from({ length: n }, () => {
    const split = () => {
      const examples = rw.next() % (b.maxExamples + 1);
      const correct = examples ? rw.next() % (examples + 1) : 0;
      return { lossSum: uniform(rw) * examples * b.maxLoss, correct, examples };
    };
    return {
      update: Float32Array.from({ length: d }, () => uniform(rw) - 0.5),
      sums: { heldOut: split(), train: split() } as FederatedSums,
    };
  });
}

function encodeSumDecode(cs: ReturnType<typeof clients>, params: DdgParams, b: MetricBounds, tag: number): Float64Array {
  const seed = randomSeed();
  const rng = seeded(tag);
  const mask = params.bits === 32 ? -1 : 2 ** params.bits - 1;
  let sum: Uint32Array | null = null;
  for (const c of cs) {
    const { out } = appendFederatedMetrics(c.update, c.sums, params.clip, b);
    const { encoded } = encodeDdg(out, params, seed, { rng });
    if (!sum) sum = encoded.slice();
    else for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + encoded[i]!) & mask;
  }
  return decodeDdg(sum!, params, seed, 1);
}

function exactTotals(cs: ReturnType<typeof clients>, b: MetricBounds): number[] {
  const t = new Array<number>(6).fill(0);
  for (const { sums: s } of cs) {
    const v = [s.heldOut.lossSum, s.heldOut.correct, s.heldOut.examples, s.train.lossSum, s.train.correct, s.train.examples];
    v.forEach((x, i) => {
      t[i]! += x;
    });
  }
  expect(t[2]! <= cs.length * b.maxExamples).toBe(true);
  return t;
}

const flat = (s: FederatedSums) => [s.heldOut.lossSum, s.heldOut.correct, s.heldOut.examples, s.train.lossSum, s.train.correct, s.train.examples];

describe('encode → modular sum → decode recovers the metric totals', () => {
  const n = 8;
  const d = 250; // d + k = 256: no extra padding
  const b: MetricBounds = { maxExamples: 200, maxLoss: 10, normShare: 0.25 };

  it('without noise: every total up to quantisation (counts exact after rounding), the model part unchanged', () => {
    const params: DdgParams = { dim: d + FEDERATED_METRICS, clip: 1, gamma: 1e-7, beta: 0, bits: 32, localStddev: 0 };
    const cs = clients(n, d, b, 3);
    const decoded = encodeSumDecode(cs, params, b, 4);
    const totals = flat(federatedTotals(decoded, d, params.clip, b));
    const want = exactTotals(cs, b);
    // Rounding adds error of variance ≤ γ²/4 per client per rotated coordinate, so a coordinate of the sum is
    // off by about γ·√n/2; the tolerance is √d′ = 16 times that (in metric units: times bound/scale).
    const units = metricUnitsPerCoordinate(params.clip, b);
    const worst = (params.gamma * Math.sqrt(n * 256)) / 2;
    totals.forEach((t, i) => {
      const tol = worst * (i % 3 === 0 ? units.loss : units.count);
      expect(Math.abs(t - want[i]!)).toBeLessThan(tol);
    });
    for (const i of [1, 2, 4, 5]) expect(Math.round(totals[i]!)).toBe(want[i]);
    // The first d coordinates are the sum of the updates clipped to updateClip, as without metrics.
    const clipped = new Float64Array(d);
    for (const c of cs) {
      const s = Math.min(1, updateClip(1, b) / l2Norm(c.update));
      for (let i = 0; i < d; i++) clipped[i]! += c.update[i]! * s;
    }
    for (let i = 0; i < d; i++) expect(Math.abs(decoded[i]! - clipped[i]!)).toBeLessThan(worst);
  });

  it('with noise: the totals are off by the noise of the sum, σ·√n per coordinate, and no more', () => {
    const sigma = 2e-4;
    const params: DdgParams = { dim: d + FEDERATED_METRICS, clip: 1, gamma: 2e-5, beta: Math.exp(-0.5), bits: 32, localStddev: sigma };
    const units = metricUnitsPerCoordinate(params.clip, b);
    // Per coordinate the sum carries n discrete Gaussians of variance ≈ σ² plus rounding (≤ γ²/4 each).
    const sd = Math.sqrt(n * (sigma ** 2 + params.gamma ** 2 / 4));
    const errors: number[] = [];
    for (let trial = 0; trial < 6; trial++) {
      const cs = clients(n, d, b, 10 + trial);
      const totals = flat(federatedTotals(encodeSumDecode(cs, params, b, 20 + trial), d, params.clip, b));
      const want = exactTotals(cs, b);
      totals.forEach((t, i) => {
        const z = (t - want[i]!) / (sd * (i % 3 === 0 ? units.loss : units.count));
        expect(Math.abs(z)).toBeLessThan(6);
        errors.push(z);
      });
    }
    // The errors have the noise's spread: not much smaller either (the metrics are noised, not left exact).
    const rms = Math.sqrt(errors.reduce((s, z) => s + z * z, 0) / errors.length);
    expect(rms).toBeGreaterThan(0.6);
    expect(rms).toBeLessThan(1.5);
  });

  it('federatedTotals refuses a sum of the wrong length', () => {
    expect(() => federatedTotals(new Float64Array(10), 5, 1, b)).toThrow(DdpParameterError);
  });
});
