/**
 * Calibration of DDG (Kairouz et al. 2021, §4.4 and §5): choose the grid granularity γ and the local noise σ
 * for a target (ε, δ).
 *
 * - σ(γ): the smallest σ (bisection; ε is decreasing in σ) whose accountant ε over all rounds is at most the
 *   target, with the noise of only **n_min** clients in the sum, so that a round that completes with fewer
 *   contributors than planned (but at least n_min) still meets the guarantee. n_min counts parties (connections
 *   with their own keys), never the mini-clients one of them claims: a party that colludes adds no noise for
 *   any of its mini-clients. σ is never below γ/2: the DDG bound holds only for a per-client grid standard
 *   deviation σ/γ ≥ 1/2 (Kairouz, Liu & Steinke 2021, Theorem 1); where the target would allow less noise,
 *   σ = γ/2 and the accountant's ε is below the target.
 * - γ: the finest grid whose aggregate stays inside the modular range with k standard deviations of
 *   headroom, treating the aggregate as sub-Gaussian (§4.2, §4.4):
 *       2^B >= 2k·sqrt( c²·n²/d' + (γ²/4 + σ(γ)²)·n ) / γ,
 *   with n the expected clients per round (more clients make a larger sum) and the worst-case norm growth
 *   ‖Σ xᵢ‖ <= n·c. The left side is fixed and the right decreases in γ, so bisection finds the boundary.
 * - Adaptive clipping (Andrew, Thakkar, McMahan & Ramaswamy 2021, §3): with `countStddev` every candidate is
 *   accounted as the composed (model sum, clipped count) round, so the bisection enlarges the model's σ to
 *   pay for the count. This is the paper's budget split: the count's noise is fixed and the update's noise
 *   multiplier becomes, in the Gaussian case, z_Δ = (z^(−2) − (2σ_b)^(−2))^(−1/2).
 *   The count coordinate does not change γ: it is not scaled by γ, and its range is tiny
 *   (|S| <= n + k·√n·s), so it only needs n + k·√n·s < 2^(B−1) to centre without wrapping, checked here.
 */
import { MIN_GRID_STDDEV, accountClipCount, accountDdg, checkCountStddev, checkGridStddev, type DdgAccountResult } from './accountant/ddg.ts';
import { checkDelta, checkSampleRate } from './accountant/rdp.ts';
import { DdpParameterError } from './errors.ts';
import { checkClipCountRange, clipCountGrid } from './clipCount.ts';
import { nextPowerOfTwo } from './hadamard.ts';
import { checkBeta, checkBits } from './params.ts';

/** β = e^(−1/2), the value the paper's experiments use. */
export const DEFAULT_BETA = Math.exp(-0.5);
export const DEFAULT_K_STDDEVS = 4;

export interface DdgCalibrationInput {
  readonly epsilon: number;
  readonly delta: number;
  /** Expected clients per round n (sizes the modular headroom). */
  readonly clients: number;
  /** n_min: fewest parties whose noise a released round's sum holds (the accountant's n). Defaults to `clients`. */
  readonly minClients?: number;
  /** Poisson client sampling rate q ∈ (0, 1]. */
  readonly sampleRate: number;
  readonly rounds: number;
  /** Model dimension d; padded to d' internally. */
  readonly dim: number;
  readonly clip: number;
  readonly bits: number;
  readonly beta?: number;
  readonly kStddevs?: number;
  /**
   * Grid stddev s (>= 1/2) of each party's noise on the adaptive-clipping count coordinate (clipCount.ts);
   * absent: no count is released. See defaultCountStddev for Andrew et al.'s σ_b = m/20.
   */
  readonly countStddev?: number;
  /** h: the count's scale on the grid (its sensitivity; default 1; clipCountGrid). */
  readonly countScale?: number;
}

export interface DdgCalibration {
  readonly gamma: number;
  readonly localStddev: number;
  /** ε the accountant gives for these parameters at n_min parties (<= the target). */
  readonly epsilon: number;
  readonly order: number;
  readonly delta: number;
  readonly dimPadded: number;
  readonly bits: number;
  readonly beta: number;
  readonly kStddevs: number;
  readonly clients: number;
  readonly minClients: number;
  readonly sampleRate: number;
  readonly rounds: number;
  readonly clip: number;
  /** σ/γ: per-client noise stddev on the integer grid, at least 1/2 (MIN_GRID_STDDEV). */
  readonly gridStddev: number;
  readonly l2SensitivityGrid: number;
  readonly tau: number;
  /** Standard deviations of headroom the aggregate actually has inside 2^B at these parameters. */
  readonly headroomStddevs: number;
  /** The count coordinate's grid stddev s; null when no count is released. */
  readonly countStddev: number | null;
  /** The count's scale h on the grid; null when no count is released. */
  readonly countScale: number | null;
  /** ε of the model release alone over all rounds at these parameters (= epsilon without a count). */
  readonly modelEpsilon: number;
  /** ε of the clipped count alone over all rounds; null without a count. */
  readonly countEpsilon: number | null;
  /**
   * σ a calibration of the same input without the count chooses (= localStddev without a count): with
   * localStddev, the price of adaptive clipping in model noise.
   */
  readonly localStddevWithoutCount: number;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new DdpParameterError(name, `${name} must be a positive integer, got ${v}`);
}

function positive(name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new DdpParameterError(name, `${name} must be a positive finite number, got ${v}`);
}

const REL_TOL = 1e-9;

export function calibrateDdg(input: DdgCalibrationInput): DdgCalibration {
  const countStddev = input.countStddev;
  if (countStddev === undefined) {
    const cal = calibrateModel(input, undefined);
    return { ...cal, countStddev: null, countScale: null, modelEpsilon: cal.epsilon, countEpsilon: null, localStddevWithoutCount: cal.localStddev };
  }
  checkCountStddev(countStddev);
  const minClients = input.minClients ?? input.clients;
  const k = input.kStddevs ?? DEFAULT_K_STDDEVS;
  const cal = calibrateModel(input, countStddev);
  const countScale = input.countScale ?? 1;
  const countEpsilon = accountClipCount({
    countStddev,
    countScale,
    clients: minClients,
    sampleRate: input.sampleRate,
    rounds: input.rounds,
    delta: input.delta,
  }).epsilon;
  checkClipCountRange({ countScale, countStddev, clients: input.clients, bits: input.bits, kStddevs: k });
  const modelEpsilon = accountDdg({
    clip: cal.clip,
    gamma: cal.gamma,
    beta: cal.beta,
    dimPadded: cal.dimPadded,
    clients: minClients,
    localStddev: cal.localStddev,
    sampleRate: input.sampleRate,
    rounds: input.rounds,
    delta: input.delta,
  }).epsilon;
  const localStddevWithoutCount = calibrateModel(input, undefined).localStddev;
  return { ...cal, countStddev, countScale, modelEpsilon, countEpsilon, localStddevWithoutCount };
}

type ModelCalibration = Omit<DdgCalibration, 'countStddev' | 'countScale' | 'modelEpsilon' | 'countEpsilon' | 'localStddevWithoutCount'>;

function calibrateModel(input: DdgCalibrationInput, countStddev: number | undefined): ModelCalibration {
  positive('epsilon', input.epsilon);
  checkDelta(input.delta);
  positiveInt('clients', input.clients);
  const minClients = input.minClients ?? input.clients;
  positiveInt('minClients', minClients);
  if (minClients > input.clients) throw new DdpParameterError('minClients', `minClients (${minClients}) cannot exceed clients (${input.clients})`);
  checkSampleRate(input.sampleRate);
  positiveInt('rounds', input.rounds);
  positive('clip', input.clip);
  checkBits(input.bits);
  const beta = input.beta ?? DEFAULT_BETA;
  checkBeta(beta);
  const k = input.kStddevs ?? DEFAULT_K_STDDEVS;
  positive('kStddevs', k);
  const dimPadded = nextPowerOfTwo(input.dim);
  const n = input.clients;
  const c = input.clip;

  const account = (gamma: number, localStddev: number): DdgAccountResult =>
    accountDdg({
      clip: c,
      gamma,
      beta,
      dimPadded,
      clients: minClients,
      localStddev,
      sampleRate: input.sampleRate,
      rounds: input.rounds,
      delta: input.delta,
      countStddev,
      ...(input.countScale !== undefined ? { countScale: input.countScale } : {}),
    });

  // The count's ε alone is what the composed round tends to as the model's σ grows: a target at or below it
  // cannot be met with any model noise.
  if (countStddev !== undefined) {
    const alone = accountClipCount({
      countStddev,
      countScale: input.countScale ?? 1,
      clients: minClients,
      sampleRate: input.sampleRate,
      rounds: input.rounds,
      delta: input.delta,
    }).epsilon;
    if (!(alone < input.epsilon)) {
      throw new DdpParameterError(
        'countStddev',
        `epsilon ${input.epsilon} is not reachable with the clipped count: the count alone (countStddev=${countStddev}, n_min=${minClients}) spends ε = ${alone} over ${input.rounds} rounds; raise countStddev or the target`,
      );
    }
  }

  /**
   * Smallest σ (to relative 1e-9, rounded up) meeting the target ε at this γ, or null when none does; never
   * below γ/2, where the accountant's bound stops holding (σ = γ/2 when the target would allow less).
   */
  const stddevFor = (gamma: number): number | null => {
    const meets = (s: number) => account(gamma, s).epsilon <= input.epsilon;
    const floor = gamma * MIN_GRID_STDDEV;
    if (meets(floor)) return floor;
    let hi = Math.max(c, floor);
    for (let i = 0; !meets(hi); i++) {
      if (i > 80) return null;
      hi *= 4;
    }
    let lo = hi;
    while (meets(lo)) {
      lo /= 4;
      if (lo <= floor) lo = floor; // meets(floor) is false: a bracket
    }
    while (hi / lo > 1 + REL_TOL) {
      const mid = Math.sqrt(lo * hi);
      if (meets(mid)) hi = mid;
      else lo = mid;
    }
    return hi;
  };

  /** 2k·sqrt(c²n²/d' + (γ²/4 + σ²)n)/γ: the modular range the aggregate needs (§4.4). */
  const rangeNeeded = (gamma: number, s: number) => (2 * k * Math.sqrt((c * c * n * n) / dimPadded + ((gamma * gamma) / 4 + s * s) * n)) / gamma;
  const modulus = 2 ** input.bits;
  const fits = (gamma: number): boolean => {
    const s = stddevFor(gamma);
    if (s === null)
      throw new DdpParameterError('epsilon', `epsilon ${input.epsilon} is not reachable at delta ${input.delta} over ${input.rounds} rounds with any noise`);
    return rangeNeeded(gamma, s) <= modulus;
  };

  // Bracket the boundary: gHi fits, gLo does not.
  let gHi = c / modulus;
  for (let i = 0; !fits(gHi); i++) {
    if (i > 40) {
      const s = stddevFor(gHi)!;
      const needBits = Math.ceil(Math.log2(rangeNeeded(gHi, s)));
      throw new DdpParameterError('bits', `bits=${input.bits} cannot hold ${n} clients with k=${k} at epsilon ${input.epsilon}: need bits >= ${needBits}`);
    }
    gHi *= 4;
  }
  let gLo = gHi;
  for (let i = 0; fits(gLo); i++) {
    if (i > 80) break;
    gLo /= 4;
  }
  while (gHi / gLo > 1 + REL_TOL) {
    const mid = Math.sqrt(gLo * gHi);
    if (fits(mid)) gHi = mid;
    else gLo = mid;
  }
  const gamma = gHi;
  const localStddev = stddevFor(gamma)!;
  checkGridStddev(localStddev, gamma);
  const acc = account(gamma, localStddev);
  const spread = Math.sqrt((c * c * n * n) / dimPadded + ((gamma * gamma) / 4 + localStddev * localStddev) * n) / gamma;
  return {
    gamma,
    localStddev,
    epsilon: acc.epsilon,
    order: acc.order,
    delta: input.delta,
    dimPadded,
    bits: input.bits,
    beta,
    kStddevs: k,
    clients: n,
    minClients,
    sampleRate: input.sampleRate,
    rounds: input.rounds,
    clip: c,
    gridStddev: localStddev / gamma,
    l2SensitivityGrid: acc.l2SensitivityGrid,
    tau: acc.tau,
    headroomStddevs: modulus / (2 * spread),
  };
}

/**
 * γ for quantization without noise (a non-private run still goes through SecAgg, so it still needs a grid):
 * the finest γ with 2^B >= 2k·sqrt(c²n²/d' + n·γ²/4)/γ, i.e. γ = 2k·c·n/sqrt(d'·(2^(2B) − k²·n)).
 */
export function quantizationGamma(input: { clip: number; clients: number; dim: number; bits: number; kStddevs?: number }): number {
  positive('clip', input.clip);
  positiveInt('clients', input.clients);
  checkBits(input.bits);
  const k = input.kStddevs ?? DEFAULT_K_STDDEVS;
  positive('kStddevs', k);
  const d = nextPowerOfTwo(input.dim);
  const room = 2 ** (2 * input.bits) - k * k * input.clients;
  if (room <= 0) {
    const need = Math.ceil(Math.log2(k * Math.sqrt(input.clients)) + 1e-12) + 1;
    throw new DdpParameterError('bits', `bits=${input.bits} cannot hold ${input.clients} clients with k=${k}: need bits >= ${need}`);
  }
  return (2 * k * input.clip * input.clients) / Math.sqrt(d * room);
}

/** The most of a run's target ε the clipped count may spend on its own at its default noise (defaultClipCountNoise). */
export const CLIP_COUNT_MAX_SHARE = 0.5;

/**
 * The clipped count's default noise s, in sign units (σ_b = √n_min·s/2 on Σb): Andrew et al.'s (2021, §3)
 * σ_b = m/20 for m expected contributions a round, which keeps the noise on b̄ at 0.05. That is cheap at their
 * scale (m in the hundreds); in a small round it is not (at m = 4 it spends more than a whole budget). More
 * noise would not help: b̄'s noise σ_b/m is what makes the clip follow the quantile or wander, and at σ_b ≫ m/20
 * the clip takes random steps. So where the count alone would spend more than CLIP_COUNT_MAX_SHARE of the
 * target, the config is refused, naming what to change.
 */
export function defaultClipCountNoise(input: {
  readonly epsilon: number;
  readonly delta: number;
  readonly clients: number;
  readonly minClients: number;
  readonly sampleRate: number;
  readonly rounds: number;
}): number {
  positive('epsilon', input.epsilon);
  const s = input.clients / (10 * Math.sqrt(input.minClients));
  const spent = accountClipCount({
    ...clipCountGrid(s),
    clients: input.minClients,
    sampleRate: input.sampleRate,
    rounds: input.rounds,
    delta: input.delta,
  }).epsilon;
  if (spent > CLIP_COUNT_MAX_SHARE * input.epsilon) {
    throw new DdpParameterError(
      'countNoise',
      `adaptive clipping's count at σ_b = m/20 = ${input.clients / 20} (Andrew et al.) would alone spend ε = ${spent.toFixed(3)} of the target ${input.epsilon} over ${input.rounds} rounds: ` +
        `too few clients per round (${input.clients}) for a useful noisy count; use more clients per round, a fixed clip, or set adaptiveClip.countNoise (σ_b) knowing that b̄ then carries noise σ_b/m`,
    );
  }
  return s;
}
