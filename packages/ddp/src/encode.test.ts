import { describe, expect, it } from 'vitest';
import { calibrateDdg } from './calibrate.ts';
import { decodeDdg } from './decode.ts';
import { encodeDdg, gridNoiseVariance, l2Norm } from './encode.ts';
import { DdpParameterError } from './errors.ts';
import type { DdgParams } from './params.ts';
import { chachaRandomWords, randomSeed } from './random.ts';

function seededWords(tag: number) {
  const s = new Uint8Array(32);
  s[1] = tag;
  return chachaRandomWords(s);
}

/** n client vectors of dimension d with norms spread around the clip (some clipped, some not). */
function clientVectors(n: number, d: number, tag: number): Float64Array[] {
  const rw = seededWords(tag);
  return Array.from({ length: n }, (_, c) => {
    const v = Float64Array.from({ length: d }, () => rw.next() / 2 ** 32 - 0.5);
    const target = 0.5 + (c % 4) * 0.5; // norms 0.5, 1, 1.5, 2
    const norm = l2Norm(v);
    return v.map((x) => (x * target) / norm);
  });
}

function clippedMean(vectors: Float64Array[], clip: number): Float64Array {
  const d = vectors[0]!.length;
  const mean = new Float64Array(d);
  for (const v of vectors) {
    const norm = l2Norm(v);
    const s = norm > clip ? clip / norm : 1;
    for (let i = 0; i < d; i++) mean[i]! += (v[i]! * s) / vectors.length;
  }
  return mean;
}

/** Encodes every vector and sums the encodings mod 2^B, as SecAgg would. */
function encodeAndSum(vectors: Float64Array[], params: DdgParams, seed: Uint8Array, tag: number): Uint32Array {
  const rng = seededWords(tag);
  let sum: Uint32Array | null = null;
  const mask = params.bits === 32 ? -1 : 2 ** params.bits - 1;
  for (const v of vectors) {
    const { encoded } = encodeDdg(v, params, seed, { rng });
    if (!sum) sum = encoded.slice();
    else for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + encoded[i]!) & mask;
  }
  return sum!;
}

function distance(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

describe('encodeDdg → modular sum → decodeDdg', () => {
  const n = 10;
  const d = 1000;
  const vectors = clientVectors(n, d, 1);
  const truth = clippedMean(vectors, 1);

  it('recovers the mean of the clipped inputs within the noise’s expected error', () => {
    const params: DdgParams = { dim: d, clip: 1, gamma: 1e-3, beta: Math.exp(-0.5), bits: 20, localStddev: 0.05 };
    const seed = randomSeed();
    const mean = decodeDdg(encodeAndSum(vectors, params, seed, 2), params, seed, n);
    // Each coordinate of the decoded mean carries n discrete Gaussians of variance ≈ (σ/γ)² on the grid plus
    // rounding error of variance <= 1/4 per client, scaled by γ/n: E‖err‖² between d·σ²/n and d·(σ²+γ²/4)/n.
    const err = distance(mean, truth);
    const lower = Math.sqrt((d * params.localStddev ** 2) / n);
    const upper = Math.sqrt((d * (params.localStddev ** 2 + params.gamma ** 2 / 4)) / n);
    expect(err).toBeGreaterThan(0.9 * lower);
    expect(err).toBeLessThan(1.1 * upper);
  });

  it('without noise the error is only rounding: at most γ·√d′', () => {
    const params: DdgParams = { dim: d, clip: 1, gamma: 1e-4, beta: 0, bits: 24, localStddev: 0 };
    const seed = randomSeed();
    const mean = decodeDdg(encodeAndSum(vectors, params, seed, 3), params, seed, n);
    expect(distance(mean, truth)).toBeLessThan(params.gamma * Math.sqrt(1024));
  });

  it('decodes correctly when individual encodings wrap around 2^B but the sum fits', () => {
    const params: DdgParams = { dim: d, clip: 1, gamma: 1e-2, beta: 0, bits: 12, localStddev: 0 };
    const seed = randomSeed();
    const { encoded } = encodeDdg(vectors[0]!, params, seed, { rng: seededWords(4) });
    // Negative grid values appear as large residues near 2^12.
    expect(encoded.some((u) => u > 4000)).toBe(true);
    const mean = decodeDdg(encodeAndSum(vectors, params, seed, 5), params, seed, n);
    expect(distance(mean, truth)).toBeLessThan(params.gamma * Math.sqrt(1024));
  });

  it('clips: an update of norm 10 contributes as one of norm c', () => {
    const params: DdgParams = { dim: 4, clip: 1, gamma: 1e-6, beta: 0, bits: 32, localStddev: 0 };
    const seed = randomSeed();
    const big = Float64Array.from([6, 8, 0, 0]);
    const { encoded, inputNorm } = encodeDdg(big, params, seed, { rng: seededWords(6) });
    expect(inputNorm).toBe(10);
    const mean = decodeDdg(encoded, params, seed, 1);
    expect(mean[0]).toBeCloseTo(0.6, 5);
    expect(mean[1]).toBeCloseTo(0.8, 5);
  });

  it('refuses bad input with a typed error naming the field', () => {
    const params: DdgParams = { dim: 4, clip: 1, gamma: 1e-3, beta: 0, bits: 16, localStddev: 0.01 };
    const seed = randomSeed();
    const cases: [Float64Array, Partial<DdgParams>, Uint8Array, string][] = [
      [new Float64Array(3), {}, seed, 'update'],
      [Float64Array.from([NaN, 0, 0, 0]), {}, seed, 'update'],
      [new Float64Array(4), { bits: 33 }, seed, 'bits'],
      [new Float64Array(4), { beta: 1 }, seed, 'beta'],
      [new Float64Array(4), { gamma: 0 }, seed, 'gamma'],
      [new Float64Array(4), {}, new Uint8Array(31), 'rotationSeed'],
    ];
    for (const [update, patch, s, field] of cases) {
      try {
        encodeDdg(update, { ...params, ...patch }, s);
        expect.unreachable(`accepted bad ${field}`);
      } catch (e) {
        expect(e).toBeInstanceOf(DdpParameterError);
        expect((e as DdpParameterError).param).toBe(field);
      }
    }
  });

  it('the grid variance handed to the sampler is never below (σ/γ)²', () => {
    for (const [s, g] of [
      [0.05, 1e-3],
      [1, 3e-4],
      [0.0123, 7e-5],
    ] as const) {
      const r = gridNoiseVariance({ localStddev: s, gamma: g })!;
      expect(Number(r.num) / Number(r.den)).toBeGreaterThanOrEqual((s / g) ** 2);
    }
    expect(gridNoiseVariance({ localStddev: 0, gamma: 1 })).toBeNull();
  });
});

describe('calibrated parameters keep the aggregate inside 2^B', () => {
  it('the sum of n worst-case (aligned) clients spreads no wider than the calibration assumed', () => {
    const n = 20;
    const d = 4096;
    const bits = 14;
    const cal = calibrateDdg({ epsilon: 4, delta: 1e-5, clients: n, sampleRate: 1, rounds: 5, dim: d, clip: 1, bits, kStddevs: 4 });
    // Encode at 32 bits with the same γ and σ: the residues are then the plain integer sums (no wrap).
    const params: DdgParams = { dim: d, clip: 1, gamma: cal.gamma, beta: cal.beta, bits: 32, localStddev: cal.localStddev };
    const aligned = clientVectors(1, d, 7)[0]!.map((x) => x * 3); // norm 1.5 > c: clipped to c, all equal
    const seed = randomSeed();
    const sum = encodeAndSum(
      Array.from({ length: n }, () => aligned),
      params,
      seed,
      8,
    );
    const centred = Array.from(sum, (u) => (u >= 2 ** 31 ? u - 2 ** 32 : u));
    const rms = Math.sqrt(centred.reduce((s, v) => s + v * v, 0) / d);
    // The calibration budgets k standard deviations of spread inside half the ring.
    const assumedStddev = 2 ** (bits - 1) / cal.kStddevs;
    expect(rms).toBeLessThanOrEqual(assumedStddev * 1.05);
    expect(rms).toBeGreaterThan(assumedStddev * 0.5);
    // So almost every coordinate fits in [−2^(B−1), 2^(B−1)): at most a few times the Gaussian tail P(|Z| > k).
    const outside = centred.filter((v) => v < -(2 ** (bits - 1)) || v >= 2 ** (bits - 1)).length;
    expect(outside / d).toBeLessThan(10 * 6.4e-5 + 5 / d);
  });
});
