/**
 * Adaptive clipping's clipped-count coordinate (Andrew, Thakkar, McMahan & Ramaswamy, "Differentially
 * Private Learning with Adaptive Clipping", NeurIPS 2021, Algorithm 1 / §3), on the DDG integer grid.
 *
 * Beside its DDG-encoded update, each mini-client contributes one more SecAgg coordinate: (2b − 1)·h with
 * b = [‖Δ‖ <= C_t] and an integer scale h, plus its own discrete Gaussian noise N_Z(0, g²) (g = countStddev,
 * grid units), mod 2^B. The coordinator sees only S = h·Σ(2bᵢ − 1) + Σ noise (mod 2^B). Andrew et al. release
 * Σ(bᵢ − 1/2) to halve the sensitivity; here that is S/(2h) in integer form, so the clipped fraction estimate is
 *   b̄ = Σ(bᵢ − 1/2)/m̃ + 1/2 = S/(2h·m̃) + 1/2
 * with m̃ the public divisor (the expected contributions): no realized count is needed. Under add/remove
 * adjacency S has sensitivity Δ₁ = Δ₂ = h; its privacy is accounted in accountant/ddg.ts (`countStddev`,
 * `countScale`). The scale is the count's grid: the noise a sign needs (s = g/h, a few tenths for Andrew et
 * al.'s σ_b = m/20) is far below the 1/2 the DDG bound requires, and at g = 1/2 the bound's τ term (the sum of
 * discrete Gaussians not being one) would cost more than the count itself; h makes g ≥ COUNT_GRID_STDDEV,
 * where τ vanishes (clipCountGrid).
 */
import { MIN_GRID_STDDEV } from './accountant/ddg.ts';
import { DiscreteGaussianSampler } from './discreteGaussian.ts';
import { DdpParameterError } from './errors.ts';
import { checkBits } from './params.ts';
import { cryptoRandomWords, type RandomWords } from './random.ts';
import { rationalAtLeast, type Rational } from './rational.ts';

export interface ClipCountParams {
  /**
   * Grid standard deviation s of this party's count noise: at least 1/2 (the DDG bound's precondition), or 0
   * for no noise — only in a noiseless run (like DdgParams.localStddev = 0: quantization only, no DP).
   */
  readonly countStddev: number;
  /** h: the sign is sent as ±h (default 1). */
  readonly countScale?: number;
  /** Bits B of the modular ring Z_{2^B}, the same as the model's. */
  readonly bits: number;
}

/** The largest scale h a task may carry (protocol's adaptiveClip.countScale). */
export const MAX_COUNT_SCALE = 2 ** 20;

/**
 * The count's sum |S| ≤ h·m + k·√m·g (m signs of ±h, the noise of m parties within k standard deviations) must
 * centre inside [−2^(B−1), 2^(B−1)) to decode without a wrap; throws naming the bits it needs otherwise.
 */
export function checkClipCountRange(p: { countScale: number; countStddev: number; clients: number; bits: number; kStddevs: number }): void {
  const range = p.countScale * p.clients + p.kStddevs * Math.sqrt(p.clients) * p.countStddev;
  if (!(range < 2 ** (p.bits - 1))) {
    throw new DdpParameterError(
      'bits',
      `bits=${p.bits} cannot hold the clipped count of ${p.clients} clients (±${p.countScale} each, noise ${p.countStddev} per party, k=${p.kStddevs}): need bits >= ${Math.floor(Math.log2(range)) + 2}`,
    );
  }
}

/** The least grid stddev the count uses: τ = 10·Σ exp(−2π²g²k/(k+1)) is below 10·n·e^{−39} there. */
export const COUNT_GRID_STDDEV = 2;

/**
 * The count's grid for noise s per party in sign units (σ_b = √n_min·s/2 on Σb): the scale h = ⌈COUNT_GRID_STDDEV/s⌉
 * (at least 1) and the grid stddev g = s·h. Sensitivity h and noise g give the same l = h/(√n·g) = 1/(√n·s).
 */
export function clipCountGrid(s: number): { countScale: number; countStddev: number } {
  if (!(s > 0 && Number.isFinite(s))) throw new DdpParameterError('countNoise', `the count's noise must be positive and finite, got ${s}`);
  const countScale = Math.max(1, Math.ceil(COUNT_GRID_STDDEV / s));
  if (countScale > MAX_COUNT_SCALE) {
    throw new DdpParameterError(
      'countNoise',
      `the count's noise ${s} per party (sign units) is too small: its grid would need a scale of ${countScale} > 2^20`,
    );
  }
  return { countScale, countStddev: s * countScale };
}

/** Throws unless countStddev is 0 (noiseless run) or a finite number >= 1/2. */
export function checkClipCountParams(params: ClipCountParams): void {
  checkBits(params.bits);
  const h = params.countScale ?? 1;
  if (!Number.isSafeInteger(h) || h < 1) throw new DdpParameterError('countScale', `countScale must be a positive integer, got ${h}`);
  const s = params.countStddev;
  if (typeof s !== 'number' || !Number.isFinite(s) || !(s === 0 || s >= MIN_GRID_STDDEV)) {
    throw new DdpParameterError(
      'countStddev',
      `countStddev must be 0 (no noise, no DP) or a finite number of at least 1/2 (the distributed discrete Gaussian bound needs half a grid step of noise per party), got ${s}`,
    );
  }
}

/** The count's noise variance s² as the exact rational the sampler uses (rounded up, as gridNoiseVariance); null for s = 0. */
export function clipCountNoiseVariance(countStddev: number): Rational | null {
  if (countStddev === 0) return null;
  // A few ulps of headroom so float error in s·s can only raise, never lower, the variance.
  return rationalAtLeast(countStddev * countStddev * (1 + 8 * Number.EPSILON));
}

/**
 * One party's count coordinate: ((2b − 1) + Z) mod 2^B as a value in [0, 2^B), Z ~ N_Z(0, s²) drawn exactly
 * (Canonne, Kamath & Steinke 2020, Alg. 3) from `rng` (the platform CSPRNG by default).
 */
export function encodeClipCount(belowClip: boolean, params: ClipCountParams, rng: RandomWords = cryptoRandomWords()): number {
  checkClipCountParams(params);
  if (typeof belowClip !== 'boolean') throw new DdpParameterError('belowClip', `belowClip must be a boolean, got ${String(belowClip)}`);
  const variance = clipCountNoiseVariance(params.countStddev);
  const noise = variance ? new DiscreteGaussianSampler(variance, rng).sample() : 0;
  const h = params.countScale ?? 1;
  return reduce((belowClip ? h : -h) + noise, params.bits);
}

/** An integer reduced mod 2^B into [0, 2^B) (exact for any safe integer: ToInt32 is exact modular reduction). */
function reduce(v: number, bits: number): number {
  if (bits === 32) return (v & -1) >>> 0;
  const m = 2 ** bits;
  return ((v % m) + m) % m;
}

/**
 * The signed value of a count sum mod 2^B, centred as decodeDdg centres the model's coordinates: into
 * [−2^(B−1), 2^(B−1)). `sum` may be the reduced SecAgg output or any safe integer (it is reduced first).
 */
export function decodeClipCount(sum: number, bits: number): number {
  checkBits(bits);
  if (!Number.isSafeInteger(sum)) throw new DdpParameterError('sum', `sum must be a safe integer, got ${sum}`);
  const m = 2 ** bits;
  const u = reduce(sum, bits);
  return u >= m / 2 ? u - m : u;
}

/**
 * Clipped-fraction estimate b̄ = S/(2·m̃) + 1/2 from the signed sum S and the public divisor m̃ (Andrew et al.
 * 2021, Algorithm 1: b̄_t = Σ(bᵢ − 1/2 + noise)/m̃ + 1/2). Not clamped: under noise (or when the realized
 * count differs from m̃) it may leave [0, 1], as in the paper; the geometric update C ← C·exp(−η(b̄ − γ)) takes
 * it as is.
 */
export function clipCountFraction(signedSum: number, divisor: number, countScale = 1): number {
  if (typeof signedSum !== 'number' || !Number.isFinite(signedSum)) throw new DdpParameterError('signedSum', `signedSum must be finite, got ${signedSum}`);
  if (typeof divisor !== 'number' || !Number.isFinite(divisor) || divisor <= 0) {
    throw new DdpParameterError('divisor', `divisor must be a positive finite number, got ${divisor}`);
  }
  return signedSum / (2 * countScale * divisor) + 0.5;
}

/**
 * Andrew et al. (2021, §3 / experiments) recommend noise σ_b = m/20 on the count Σb, m the expected clients
 * per round. Here the noise on Σb is √n_min·s/2 in sign units s = g/h (only n_min parties' noise is counted on,
 * as for the model), so s = 2σ_b/√n_min = m/(10·√n_min); clipCountGrid turns it into the grid's h and g.
 */
export function defaultCountStddev(expectedClients: number, minClients: number): number {
  if (typeof expectedClients !== 'number' || !Number.isFinite(expectedClients) || expectedClients <= 0) {
    throw new DdpParameterError('clients', `expected clients must be a positive finite number, got ${expectedClients}`);
  }
  if (!Number.isInteger(minClients) || minClients < 1) throw new DdpParameterError('minClients', `minClients must be a positive integer, got ${minClients}`);
  return expectedClients / (10 * Math.sqrt(minClients));
}

/**
 * A mini-client's update under adaptive clipping: clipped to this round's C_t and rescaled onto the plan's
 * update clip c (norm ≤ c), so the DDG plan — calibrated for c — holds whatever C_t is; the coordinator
 * multiplies the decoded mean by C_t/c. `below` is b = [‖Δ‖ ≤ C_t], the bit the count sums (Andrew et al. 2021,
 * Algorithm 1). Writes into `out` (a fresh array by default).
 */
export function clipToAdaptive(
  update: Float32Array | Float64Array,
  clip: number,
  planClip: number,
  out: Float64Array = new Float64Array(update.length),
): { scaled: Float64Array; below: boolean } {
  if (!(clip > 0 && Number.isFinite(clip))) throw new DdpParameterError('clip', `the adaptive clip must be positive and finite, got ${clip}`);
  if (!(planClip > 0 && Number.isFinite(planClip))) throw new DdpParameterError('planClip', `the plan's clip must be positive and finite, got ${planClip}`);
  let sq = 0;
  for (let i = 0; i < update.length; i++) sq += update[i]! * update[i]!;
  const norm = Math.sqrt(sq);
  const below = norm <= clip;
  const s = (below ? 1 : clip / norm) * (planClip / clip);
  for (let i = 0; i < update.length; i++) out[i] = update[i]! * s;
  return { scaled: out, below };
}

/** Adds one mini-client's count coordinate (encodeClipCount) into the last coordinate of a SecAgg input, mod 2^B. */
export function addClipCountInto(input: Uint32Array, belowClip: boolean, params: ClipCountParams, rng: RandomWords = cryptoRandomWords()): void {
  const last = input.length - 1;
  input[last] = reduce(input[last]! + encodeClipCount(belowClip, params, rng), params.bits);
}

/** s (sign units) for a chosen σ_b (noise on Σb at n_min parties, in contributions): 2σ_b/√n_min. */
export function countStddevFor(countNoise: number, minClients: number): number {
  if (!(countNoise > 0 && Number.isFinite(countNoise))) throw new DdpParameterError('countNoise', `countNoise must be positive and finite, got ${countNoise}`);
  if (!Number.isInteger(minClients) || minClients < 1) throw new DdpParameterError('minClients', `minClients must be a positive integer, got ${minClients}`);
  return (2 * countNoise) / Math.sqrt(minClients);
}
