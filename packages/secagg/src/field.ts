/**
 * The prime field GF(p), p = 2^256 + 297 (the smallest prime above 2^256), for Shamir sharing of 32-byte
 * secrets: every secret is an element, so no secret is ever folded or truncated.
 */
export const FIELD_PRIME = (1n << 256n) + 297n;
/** Bytes of a big-endian field element (p < 2^257). */
export const FIELD_BYTES = 33;

export function mod(a: bigint): bigint {
  const r = a % FIELD_PRIME;
  return r < 0n ? r + FIELD_PRIME : r;
}

/** a^-1 mod p by the extended Euclidean algorithm (a ≠ 0). */
export function invert(a: bigint): bigint {
  let [oldR, r] = [mod(a), FIELD_PRIME];
  let [oldS, s] = [1n, 0n];
  if (oldR === 0n) throw new RangeError('zero has no inverse');
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return mod(oldS);
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

export function bigIntToBytes(v: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new RangeError(`value does not fit in ${length} bytes`);
  return out;
}

/** A uniform field element from the CSPRNG, by rejection on 257-bit strings (acceptance ≈ 1/2). */
export function randomFieldElement(): bigint {
  const buf = new Uint8Array(FIELD_BYTES);
  for (;;) {
    globalThis.crypto.getRandomValues(buf);
    buf[0]! &= 1; // keep 257 bits
    const v = bytesToBigInt(buf);
    if (v < FIELD_PRIME) return v;
  }
}
