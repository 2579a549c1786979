/** Vectors in Z_{2^B} (B <= 32) as Uint32Array: the checks and the in-place ring operations SecAgg needs. */
import { SecAggError } from './errors.ts';

/** The bit mask for & that reduces mod 2^B (−1 for B = 32: storing into a Uint32Array wraps mod 2^32). */
export function ringMask(bits: number): number {
  return bits === 32 ? -1 : 2 ** bits - 1;
}

/** acc ← acc + x mod 2^B. */
export function addInPlace(acc: Uint32Array, x: Uint32Array, bits: number): void {
  const m = ringMask(bits);
  for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! + x[i]!) & m;
}

/** acc ← acc − x mod 2^B. */
export function subInPlace(acc: Uint32Array, x: Uint32Array, bits: number): void {
  const m = ringMask(bits);
  for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! - x[i]!) & m;
}

/** Throws a typed error unless v is a Uint32Array of `dim` values in [0, 2^bits). */
export function checkRingVector(v: unknown, dim: number, bits: number, clientId?: number): asserts v is Uint32Array {
  const who = clientId === undefined ? '' : ` from client ${clientId}`;
  if (!(v instanceof Uint32Array)) throw new SecAggError('bad-message', `vector${who} must be a Uint32Array`, clientId);
  if (v.length !== dim) throw new SecAggError('bad-length', `vector${who} has ${v.length} values, expected ${dim}`, clientId);
  if (bits < 32) {
    const limit = 2 ** bits;
    for (let i = 0; i < v.length; i++) {
      if (v[i]! >= limit) throw new SecAggError('out-of-range', `vector${who} has value ${v[i]} at index ${i}, outside [0, 2^${bits})`, clientId);
    }
  }
}

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A ring vector as little-endian bytes (a view on little-endian hosts). */
export function wordsAsBytes(v: Uint32Array): Uint8Array {
  if (littleEndian) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const out = new Uint8Array(v.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) view.setUint32(i * 4, v[i]!, true);
  return out;
}

/** Little-endian bytes as a ring vector (a copy when misaligned or on big-endian hosts). */
export function bytesAsWords(b: Uint8Array): Uint32Array {
  if (b.length % 4 !== 0) throw new SecAggError('bad-length', `a vector needs whole 32-bit words, got ${b.length} bytes`);
  if (littleEndian && b.byteOffset % 4 === 0) return new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
  const out = new Uint32Array(b.length / 4);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}
