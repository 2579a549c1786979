/**
 * RDP of the distributed discrete Gaussian (Kairouz, Liu & Steinke 2021, Theorem 1 with Prop. 14 / Eq. (17)):
 * n clients each add N_Z(0, σ²/γ²) to an integer vector of L2 norm <= Δ₂ (L1 <= Δ₁); the sum satisfies,
 * per round and for every order α,
 *   RDP(α) = min( α/2·l2² + τ·d',  α/2·(l2² + 2·l1·τ + τ²·d'),  α/2·(l2 + √d'·τ)² ),
 * with l2 = Δ₂/(√n·σ/γ), l1 = Δ₁/(√n·σ/γ) and τ = 10·Σ_{k=1}^{n−1} exp(−2π²(σ/γ)²·k/(k+1)).
 * The bound on the sum of n discrete Gaussians behind τ holds for a per-client grid standard deviation
 * σ/γ ≥ 1/2 (the theorem's precondition); the accountant refuses anything below it.
 * Poisson client sampling at rate q < 1 takes min(Zhu–Wang bound, unsampled) per order; rounds compose
 * additively.
 *
 * Adaptive clipping's clipped count (Andrew, Thakkar, McMahan & Ramaswamy 2021, Algorithm 1 / §3; see
 * ../clipCount.ts): when `countStddev` is given, every sampled party also releases one integer
 * (2b − 1) ∈ {−1, +1} plus N_Z(0, s²), in the same SecAgg sum of the same sample. That is the same theorem at
 * d' = 1, Δ₂ = Δ₁ = 1, n parties, grid stddev s. The round's mechanism is the pair (model sum, count): its
 * unsampled RDP is the sum of the two (composition), and it is that sum which is Poisson-subsampled — one
 * sample, one release per round — not each part on its own.
 */
import { DdpParameterError } from '../errors.ts';
import { isPowerOfTwo } from '../hadamard.ts';
import { checkBeta } from '../params.ts';
import { inflatedL2Bound, l1BoundFromL2 } from '../rounding.ts';
import { RDP_ORDERS, checkSampleRate, rdpToEpsilon, subsampledRdp, type PrivacyLoss } from './rdp.ts';

export interface DdgRoundAccounting {
  readonly clip: number;
  readonly gamma: number;
  readonly beta: number;
  /** Padded dimension d' (a power of two). */
  readonly dimPadded: number;
  /** Clients whose noise is in the sum (the accountant's n). */
  readonly clients: number;
  /** Local noise standard deviation σ, model units. */
  readonly localStddev: number;
  /** Poisson client sampling rate q ∈ (0, 1]. */
  readonly sampleRate: number;
  /**
   * Grid standard deviation s of each party's noise on the adaptive-clipping count coordinate (at least 1/2);
   * absent or undefined: the round releases no count.
   */
  readonly countStddev?: number;
  /** h: the count's sign is sent as ±h on the grid (its sensitivity; default 1), so that s can be large enough for τ to vanish. */
  readonly countScale?: number;
}

export interface DdgRoundRdp {
  /** RDP of one round at each of RDP_ORDERS. */
  readonly rdp: Float64Array;
  readonly tau: number;
  /** Δ₂ on the integer grid. */
  readonly l2SensitivityGrid: number;
  /** Δ₁ on the integer grid. */
  readonly l1SensitivityGrid: number;
  /** Unsampled (q = 1) RDP of the model sum alone at each of RDP_ORDERS. */
  readonly unsampledModelRdp: Float64Array;
  /** Unsampled (q = 1) RDP of the clipped count alone at each of RDP_ORDERS; null without a count. */
  readonly unsampledCountRdp: Float64Array | null;
  /** τ of the count's sum of n discrete Gaussians (ddgTau(countStddev, clients)); null without a count. */
  readonly countTau: number | null;
}

/**
 * The least per-client noise the DDG bound covers, in grid steps: each client's N_Z(0, σ²/γ²) share needs
 * σ/γ ≥ 1/2 (Kairouz, Liu & Steinke 2021, Theorem 1 / Prop. 14, the sum of discrete Gaussians).
 */
export const MIN_GRID_STDDEV = 0.5;

/** Throws unless σ/γ ≥ 1/2, the precondition of the DDG privacy bound, with a message that says so. */
export function checkGridStddev(localStddev: number, gamma: number): void {
  const grid = localStddev / gamma;
  if (!(grid >= MIN_GRID_STDDEV)) {
    throw new DdpParameterError(
      'localStddev',
      `localStddev/gamma = ${grid} is below 1/2: the distributed discrete Gaussian bound (Kairouz, Liu & Steinke 2021) holds only when each client's noise has a standard deviation of at least half a grid step (localStddev >= gamma/2 = ${gamma / 2})`,
    );
  }
}

/** Throws unless the count's scale h is a positive safe integer (it multiplies an integer sign on the grid). */
export function checkCountScale(countScale: number): void {
  if (!Number.isSafeInteger(countScale) || countScale < 1)
    throw new DdpParameterError('countScale', `countScale must be a positive integer, got ${countScale}`);
}

/** Throws unless the count's grid stddev is a finite number >= 1/2, the same DDG precondition as σ/γ. */
export function checkCountStddev(countStddev: number): void {
  if (typeof countStddev !== 'number' || !Number.isFinite(countStddev) || !(countStddev >= MIN_GRID_STDDEV)) {
    throw new DdpParameterError(
      'countStddev',
      `countStddev = ${countStddev} must be a finite number of at least 1/2: the distributed discrete Gaussian bound (Kairouz, Liu & Steinke 2021) on the clipped-count coordinate holds only when each party's count noise has a standard deviation of at least half a grid step`,
    );
  }
}

export function checkDdgAccounting(a: DdgRoundAccounting): void {
  const pos = (name: string, v: number) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new DdpParameterError(name, `${name} must be a positive finite number, got ${v}`);
  };
  pos('clip', a.clip);
  pos('gamma', a.gamma);
  pos('localStddev', a.localStddev);
  checkGridStddev(a.localStddev, a.gamma);
  checkBeta(a.beta);
  if (!isPowerOfTwo(a.dimPadded)) {
    throw new DdpParameterError('dim', `dim must be the padded dimension, a power of two; got ${a.dimPadded} (next power of two: ${nextPow2(a.dimPadded)})`);
  }
  if (!Number.isInteger(a.clients) || a.clients < 1) throw new DdpParameterError('clients', `clients must be a positive integer, got ${a.clients}`);
  checkSampleRate(a.sampleRate);
  if (a.countStddev !== undefined) checkCountStddev(a.countStddev);
}

function nextPow2(n: number): string {
  if (!Number.isFinite(n) || n < 1) return 'n/a';
  return String(2 ** Math.ceil(Math.log2(n)));
}

/** τ = 10·Σ_{k=1}^{n−1} exp(−2π²s²·k/(k+1)) for grid noise stddev s = σ/γ (Theorem 1). */
export function ddgTau(gridStddev: number, clients: number): number {
  let tau = 0;
  const c = -2 * Math.PI * Math.PI * gridStddev * gridStddev;
  for (let k = 1; k < clients; k++) tau += Math.exp((c * k) / (k + 1));
  return 10 * tau;
}

/**
 * Unsampled RDP of the clipped count as a function of the order: Theorem 1 at d' = 1, Δ₂ = Δ₁ = 1, with
 * l = 1/(√n·s) and τ_b = ddgTau(s, n):
 *   ε_b(α) = min( α/2·l² + τ_b,  α/2·(l² + 2·l·τ_b + τ_b²),  α/2·(l + τ_b)² ).
 * (At d' = 1 and Δ₁ = Δ₂ the last two terms coincide.) τ_b is computed once per call of this factory.
 */
function countRdpFunction(countStddev: number, clients: number, countScale = 1): { eps: (alpha: number) => number; tau: number } {
  checkCountScale(countScale);
  const l = countScale / (Math.sqrt(clients) * countStddev);
  const tau = ddgTau(countStddev, clients);
  const eps = (alpha: number): number => Math.min((alpha / 2) * l * l + tau, (alpha / 2) * (l * l + 2 * l * tau + tau * tau), (alpha / 2) * (l + tau) ** 2);
  return { eps, tau };
}

/** Unsampled RDP at order α of one round's clipped count (grid stddev s = countStddev per party, n = clients). */
export function clipCountRdp(alpha: number, countStddev: number, clients: number, countScale = 1): number {
  checkCountStddev(countStddev);
  if (!Number.isInteger(clients) || clients < 1) throw new DdpParameterError('clients', `clients must be a positive integer, got ${clients}`);
  if (typeof alpha !== 'number' || !(alpha > 1)) throw new RangeError(`order must be > 1, got ${alpha}`);
  return countRdpFunction(countStddev, clients, countScale).eps(alpha);
}

/** The per-round RDP vector at RDP_ORDERS. */
export function ddgRoundRdp(a: DdgRoundAccounting): DdgRoundRdp {
  checkDdgAccounting(a);
  const d = a.dimPadded;
  const gridStddev = a.localStddev / a.gamma;
  const l2Sens = inflatedL2Bound(a.clip / a.gamma, a.beta, d);
  const l1Sens = l1BoundFromL2(l2Sens, d);
  const centralStddev = Math.sqrt(a.clients) * gridStddev;
  const l2 = l2Sens / centralStddev;
  const l1 = l1Sens / centralStddev;
  const tau = ddgTau(gridStddev, a.clients);
  const sqrtD = Math.sqrt(d);
  const maxOrder = RDP_ORDERS[RDP_ORDERS.length - 1]!;
  const count = a.countStddev === undefined ? null : countRdpFunction(a.countStddev, a.clients, a.countScale);
  // The unsampled RDP at every integer order the Zhu–Wang sum can touch (2..256), computed once: the model
  // sum's, and the composed (model sum, count) pair's, which is what one round releases.
  const modelTable = new Float64Array(maxOrder + 1);
  const table = count ? new Float64Array(maxOrder + 1) : modelTable;
  for (let alpha = 2; alpha <= maxOrder; alpha++) {
    modelTable[alpha] = Math.min(
      (alpha / 2) * l2 * l2 + tau * d,
      (alpha / 2) * (l2 * l2 + 2 * l1 * tau + tau * tau * d),
      (alpha / 2) * (l2 + sqrtD * tau) ** 2,
    );
    if (count) table[alpha] = modelTable[alpha]! + count.eps(alpha);
  }
  const eps = (alpha: number): number => table[alpha]!;
  const rdp = new Float64Array(RDP_ORDERS.length);
  const unsampledModelRdp = new Float64Array(RDP_ORDERS.length);
  const unsampledCountRdp = count ? new Float64Array(RDP_ORDERS.length) : null;
  for (let i = 0; i < RDP_ORDERS.length; i++) {
    const alpha = RDP_ORDERS[i]!;
    const plain = eps(alpha);
    rdp[i] = a.sampleRate < 1 ? Math.min(subsampledRdp(alpha, a.sampleRate, eps), plain) : plain;
    unsampledModelRdp[i] = modelTable[alpha]!;
    if (unsampledCountRdp && count) unsampledCountRdp[i] = count.eps(alpha);
  }
  return {
    rdp,
    tau,
    l2SensitivityGrid: l2Sens,
    l1SensitivityGrid: l1Sens,
    unsampledModelRdp,
    unsampledCountRdp,
    countTau: count ? count.tau : null,
  };
}

export interface ClipCountAccounting {
  /** Grid stddev s of each party's count noise (>= 1/2). */
  readonly countStddev: number;
  /** h, the count's scale on the grid (its sensitivity; default 1). */
  readonly countScale?: number;
  /** Parties whose noise is in the sum (n). */
  readonly clients: number;
  /** Poisson client sampling rate q ∈ (0, 1]. */
  readonly sampleRate: number;
  readonly rounds: number;
  readonly delta: number;
}

/**
 * ε of the clipped count released on its own over `rounds` rounds (Poisson-subsampled like the model): the
 * count's share of a round's budget, for display. A round that releases both is accounted by accountDdg with
 * `countStddev`, which subsamples the composed pair and is not the sum of this and the model's ε.
 */
export function accountClipCount(a: ClipCountAccounting): PrivacyLoss {
  checkCountStddev(a.countStddev);
  if (!Number.isInteger(a.clients) || a.clients < 1) throw new DdpParameterError('clients', `clients must be a positive integer, got ${a.clients}`);
  checkSampleRate(a.sampleRate);
  if (!Number.isInteger(a.rounds) || a.rounds < 0) throw new DdpParameterError('rounds', `rounds must be an integer >= 0, got ${a.rounds}`);
  const { eps } = countRdpFunction(a.countStddev, a.clients, a.countScale);
  const total = RDP_ORDERS.map((alpha) => {
    const plain = eps(alpha);
    return a.rounds * (a.sampleRate < 1 ? Math.min(subsampledRdp(alpha, a.sampleRate, eps), plain) : plain);
  });
  return { ...rdpToEpsilon(total, a.delta), orders: RDP_ORDERS, rdp: total };
}

export interface DdgAccountResult extends PrivacyLoss {
  readonly tau: number;
  readonly l2SensitivityGrid: number;
  readonly l1SensitivityGrid: number;
  /** τ of the count's sum (null without a count). */
  readonly countTau: number | null;
}

/** ε after `rounds` identical rounds at the given δ. */
export function accountDdg(a: DdgRoundAccounting & { readonly rounds: number; readonly delta: number }): DdgAccountResult {
  if (!Number.isInteger(a.rounds) || a.rounds < 0) throw new DdpParameterError('rounds', `rounds must be an integer >= 0, got ${a.rounds}`);
  const round = ddgRoundRdp(a);
  const total = Array.from(round.rdp, (r) => r * a.rounds);
  const spent = rdpToEpsilon(total, a.delta);
  return {
    ...spent,
    orders: RDP_ORDERS,
    rdp: total,
    tau: round.tau,
    l2SensitivityGrid: round.l2SensitivityGrid,
    l1SensitivityGrid: round.l1SensitivityGrid,
    countTau: round.countTau,
  };
}
