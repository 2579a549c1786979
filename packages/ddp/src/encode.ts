/**
 * Client-side DDG encoding (Kairouz, Liu & Steinke, ICML 2021, Algorithm 1 "client procedure"):
 * clip → pad and rotate → scale by 1/γ → conditional randomized rounding → add N_Z(0, σ²/γ²) → reduce mod 2^B.
 * The result is what a client feeds to SecAgg; the server only ever sees the modular sum.
 */
import { DiscreteGaussianSampler } from './discreteGaussian.ts';
import { DdpParameterError } from './errors.ts';
import { validateDdgParams, type DdgParams } from './params.ts';
import { cryptoRandomWords, type RandomWords } from './random.ts';
import { rationalAtLeast, type Rational } from './rational.ts';
import { rotateUnscaledInPlace } from './rotation.ts';
import { conditionalRoundInto, inflatedL2Bound } from './rounding.ts';

export interface EncodeOptions {
  /** Randomness for rounding and noise; defaults to the platform CSPRNG. */
  readonly rng?: RandomWords;
  /** Draws allowed for conditional rounding before giving up (default 1000). */
  readonly maxRoundingTries?: number;
  /** A reusable Float64Array of the padded length, to avoid allocating one per call. */
  readonly scratch?: Float64Array;
  /** Write the result here (padded length) instead of a new array. */
  readonly out?: Uint32Array;
}

export interface DdgEncoding {
  /** The encoded vector in Z_{2^B}, padded length d'. */
  readonly encoded: Uint32Array;
  /** L2 norm of the update before clipping. */
  readonly inputNorm: number;
  /** Rounding draws used (1 unless β > 0 forced a redraw). */
  readonly roundingTries: number;
}

/** The grid noise variance σ²/γ² as the exact rational the sampler uses (rounded up; see rational.ts). */
export function gridNoiseVariance(params: Pick<DdgParams, 'localStddev' | 'gamma'>): Rational | null {
  if (params.localStddev === 0) return null;
  const s = params.localStddev / params.gamma;
  // A few ulps of headroom so float error in s·s can only raise, never lower, the variance.
  return rationalAtLeast(s * s * (1 + 8 * Number.EPSILON));
}

/** L2 norm with a scaled accumulation that cannot overflow for any finite input; NaN if any value is NaN. */
export function l2Norm(x: ArrayLike<number>): number {
  // float32 values squared and summed in a double can neither overflow (2^30 · (3.4·10^38)² < 10^87) nor lose a
  // nonzero square to underflow (2^−149 squared is 2^−298): one pass, no scaling.
  if (x instanceof Float32Array) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
    return Math.sqrt(s);
  }
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]!);
    if (a > max) max = a;
    else if (Number.isNaN(a)) return Number.NaN;
  }
  if (max === 0 || !Number.isFinite(max)) return max;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]! / max;
    s += v * v;
  }
  return max * Math.sqrt(s);
}

/** The factor that L2-clips a vector of norm `norm` to norm `clip` (Alg. 1 line 1): min(1, c/‖x‖). */
export function clipFactor(norm: number, clip: number): number {
  return norm > clip ? clip / norm : 1;
}

export function encodeDdg(update: Float32Array | Float64Array, params: DdgParams, rotationSeed: Uint8Array, options: EncodeOptions = {}): DdgEncoding {
  const padded = validateDdgParams(params);
  if (update.length !== params.dim) {
    throw new DdpParameterError('update', `update has ${update.length} values, expected dim = ${params.dim}`);
  }
  if (!(rotationSeed instanceof Uint8Array) || rotationSeed.length !== 32) {
    throw new DdpParameterError('rotationSeed', 'rotation seed must be 32 bytes');
  }
  const x = options.scratch ?? new Float64Array(padded);
  const out = options.out ?? new Uint32Array(padded);
  if (x.length !== padded || out.length !== padded) {
    throw new DdpParameterError('scratch', `scratch and out must have the padded length ${padded}`);
  }
  const rng = options.rng ?? cryptoRandomWords();

  // 1. L2 clip to norm c (Alg. 1 line 1). A non-finite update would poison the sum: refuse it.
  const inputNorm = l2Norm(update);
  if (!Number.isFinite(inputNorm)) throw new DdpParameterError('update', 'update contains NaN or infinite values');
  // 3 is folded in: clip, 1/γ scaling and the rotation's 1/√d' are one multiplication (rotation is linear).
  const scale = clipFactor(inputNorm, params.clip) / params.gamma / Math.sqrt(padded);
  for (let i = 0; i < update.length; i++) x[i] = update[i]! * scale;
  // 2. Pad with zeros to d' and rotate by H·D (Alg. 1 line 2, §4.2), H = H_unscaled/√d'.
  x.fill(0, update.length);
  rotateUnscaledInPlace(x, rotationSeed);

  // 4. Conditional randomized rounding to the integer grid with bound Δ₂ (Theorem 1 / Eq. (9)).
  const bound = inflatedL2Bound(params.clip / params.gamma, params.beta, padded);
  const roundingTries = conditionalRoundInto(x, out, params.bits, bound, rng, options.maxRoundingTries ?? 1000);

  // 5. Add discrete Gaussian noise N_Z(0, σ²/γ²) per coordinate (CKS 2020 Alg. 3), 6. reduced mod 2^B.
  const variance = gridNoiseVariance(params);
  if (variance) {
    const sampler = new DiscreteGaussianSampler(variance, rng);
    const mask = params.bits === 32 ? -1 : 2 ** params.bits - 1;
    for (let i = 0; i < padded; i++) out[i] = (out[i]! + sampler.sample()) & mask;
  }
  return { encoded: out, inputNorm, roundingTries };
}
