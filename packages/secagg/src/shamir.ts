/**
 * Shamir t-of-n secret sharing over GF(2^256 + 297) (Bonawitz et al. 2017, §3 "Secret sharing").
 * A share's x-coordinate is the holder's client id (never 0), so shares stay attributable and any t of them
 * reconstruct the secret by Lagrange interpolation at 0.
 */
import { SecAggError } from './errors.ts';
import { FIELD_BYTES, FIELD_PRIME, bigIntToBytes, bytesToBigInt, invert, mod, randomFieldElement } from './field.ts';

export interface ShamirShare {
  /** The holder's client id: the evaluation point. */
  readonly x: number;
  readonly y: bigint;
}

export const SHARE_BYTES = FIELD_BYTES;
const MAX_ID = 0xffffffff;

/**
 * Splits a 32-byte secret into one share per holder; any `threshold` of them reconstruct it, fewer reveal
 * nothing. Holders are distinct positive client ids.
 */
export function splitSecret(secret: Uint8Array, holders: readonly number[], threshold: number): Map<number, ShamirShare> {
  if (secret.length !== 32) throw new SecAggError('bad-message', 'secrets must be 32 bytes');
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > holders.length) {
    throw new SecAggError('bad-parameters', `threshold ${threshold} must be in [1, ${holders.length}] (the number of holders)`);
  }
  checkIds(holders);
  // f(X) = s + a_1·X + … + a_(t−1)·X^(t−1) with uniform coefficients.
  const coefficients = [bytesToBigInt(secret)];
  for (let i = 1; i < threshold; i++) coefficients.push(randomFieldElement());
  const shares = new Map<number, ShamirShare>();
  for (const x of holders) {
    const bx = BigInt(x);
    let y = 0n;
    for (let i = coefficients.length - 1; i >= 0; i--) y = mod(y * bx + coefficients[i]!);
    shares.set(x, { x, y });
  }
  return shares;
}

/**
 * Reconstructs the secret from at least `threshold` shares with distinct x (uses the first `threshold`).
 * Lagrange at 0: s = Σ_j y_j · Π_{m≠j} x_m / (x_m − x_j), with one field inversion for all denominators.
 */
export function reconstructSecret(shares: readonly ShamirShare[], threshold: number): Uint8Array {
  if (shares.length < threshold) {
    throw new SecAggError('unrecoverable', `need ${threshold} shares to reconstruct, got ${shares.length}`);
  }
  const used = shares.slice(0, threshold);
  checkIds(used.map((s) => s.x));
  for (const s of used) if (s.y < 0n || s.y >= FIELD_PRIME) throw new SecAggError('bad-message', `share of holder ${s.x} is not a field element`);
  const xs = used.map((s) => BigInt(s.x));
  const nums: bigint[] = [];
  const dens: bigint[] = [];
  // The x are client ids (< 2^32): products of t of them are exact small-by-big BigInt multiplications,
  // much cheaper than t² full modular products; reduce once at the end.
  for (let j = 0; j < xs.length; j++) {
    let num = 1n;
    let den = 1n;
    for (let m = 0; m < xs.length; m++) {
      if (m === j) continue;
      num *= xs[m]!;
      den *= xs[m]! - xs[j]!;
    }
    nums.push(mod(num));
    dens.push(mod(den));
  }
  // Montgomery's trick: invert the product of denominators once.
  const prefix: bigint[] = [];
  let acc = 1n;
  for (const d of dens) {
    prefix.push(acc);
    acc = mod(acc * d);
  }
  let inv = invert(acc);
  let secret = 0n;
  for (let j = dens.length - 1; j >= 0; j--) {
    const invDen = mod(inv * prefix[j]!);
    inv = mod(inv * dens[j]!);
    secret = mod(secret + used[j]!.y * nums[j]! * invDen);
  }
  if (secret >= 1n << 256n) {
    throw new SecAggError('unrecoverable', 'reconstruction gave a value above 2^256: the shares are inconsistent');
  }
  return bigIntToBytes(secret, 32);
}

export function encodeShare(share: ShamirShare): Uint8Array {
  return bigIntToBytes(share.y, SHARE_BYTES);
}

export function decodeShare(x: number, bytes: Uint8Array): ShamirShare {
  if (bytes.length !== SHARE_BYTES) throw new SecAggError('bad-message', `a share is ${SHARE_BYTES} bytes, got ${bytes.length}`, x);
  const y = bytesToBigInt(bytes);
  if (y >= FIELD_PRIME) throw new SecAggError('bad-message', `share from holder ${x} is not a field element`, x);
  return { x, y };
}

function checkIds(ids: readonly number[]): void {
  const seen = new Set<number>();
  for (const x of ids) {
    if (!Number.isInteger(x) || x < 1 || x > MAX_ID) throw new SecAggError('bad-message', `share x-coordinate ${x} must be a client id in [1, 2^32)`);
    if (seen.has(x)) throw new SecAggError('bad-message', `duplicate share x-coordinate ${x}`);
    seen.add(x);
  }
}
