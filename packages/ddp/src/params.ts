/** The parameters every DDG encoder and decoder of a round share, and their checks. */
import { DdpParameterError } from './errors.ts';
import { MAX_DIM, nextPowerOfTwo } from './hadamard.ts';

export interface DdgParams {
  /** Model dimension d (before padding). */
  readonly dim: number;
  /** L2 clipping norm c, model units. */
  readonly clip: number;
  /** Grid granularity γ: the encoder scales by 1/γ before rounding. */
  readonly gamma: number;
  /** Conditional rounding parameter β ∈ [0, 1). */
  readonly beta: number;
  /** Bits B of the modular ring Z_{2^B}, 1..32. */
  readonly bits: number;
  /** Local (per-client) noise standard deviation σ, model units; 0 disables noise (no DP). */
  readonly localStddev: number;
}

function positiveFinite(name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new DdpParameterError(name, `${name} must be a positive finite number, got ${v}`);
  }
}

export function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 32) {
    throw new DdpParameterError('bits', `bits must be an integer in [1, 32], got ${bits}`);
  }
}

export function checkBeta(beta: number): void {
  if (typeof beta !== 'number' || !(beta >= 0 && beta < 1)) {
    throw new DdpParameterError('beta', `beta must be in [0, 1), got ${beta}`);
  }
}

/** Throws a DdpParameterError naming the first bad field; returns the padded dimension d'. */
export function validateDdgParams(p: DdgParams): number {
  if (!Number.isInteger(p.dim) || p.dim < 1 || p.dim > MAX_DIM) {
    throw new DdpParameterError('dim', `dim must be an integer in [1, 2^30], got ${p.dim}`);
  }
  positiveFinite('clip', p.clip);
  positiveFinite('gamma', p.gamma);
  checkBeta(p.beta);
  checkBits(p.bits);
  if (typeof p.localStddev !== 'number' || !Number.isFinite(p.localStddev) || p.localStddev < 0) {
    throw new DdpParameterError('localStddev', `localStddev must be a finite number >= 0, got ${p.localStddev}`);
  }
  return nextPowerOfTwo(p.dim);
}
