/**
 * The global model on the way down (issue 18 §1): float32 as the coordinator holds it, or IEEE 754 binary16
 * (`float16`), half the bytes. float16 rounds each weight to nearest-even (relative error ≤ 2^−11 in its normal
 * range); the coordinator keeps the float32 model and applies the released mean update to it, so the only
 * change is that clients train from (and take their update against) the rounded weights. A model with a weight
 * outside float16's range (|w| > 65 504) or not finite goes as float32 that round: the encoding is per message.
 */
import { f32FromBytes, vectorBytes } from './binary.ts';

export const MODEL_ENCODINGS = ['float32', 'float16'] as const;
export type ModelEncoding = (typeof MODEL_ENCODINGS)[number];

const FLOAT16_MAX = 65504;
const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** float32 bits → binary16 bits, round to nearest even (finite inputs within ±65 504 only: the caller checks). */
function halfBits(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  const mant = f & 0x7fffff;
  if (exp < 102) return sign; // below 2^−25, half the smallest subnormal: ±0
  if (exp < 113) {
    // Subnormal: mantissa with the implicit bit, shifted right by 126 − exp (14..23), rounded to nearest even.
    const m = mant | 0x800000;
    const shift = 126 - exp;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h; // a carry into the exponent field is the correct smallest normal
  }
  // Normal: drop 13 mantissa bits, round to nearest even; a carry may bump the exponent (the range check keeps it finite).
  let h = ((exp - 112) << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/** binary16 bits → the float32 value it denotes (exact: every binary16 is a float32). */
function halfValue(h: number): number {
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  const magnitude = exp === 0 ? mant * 2 ** -24 : exp === 31 ? (mant ? Number.NaN : Number.POSITIVE_INFINITY) : (1024 + mant) * 2 ** (exp - 25);
  return h & 0x8000 ? -magnitude : magnitude;
}

/** The weights as binary16 little-endian bytes, or null when one is not finite or beyond ±65 504. */
export function float16Bytes(weights: Float32Array): Uint8Array | null {
  const bits = new Uint32Array(weights.buffer, weights.byteOffset, weights.length);
  const out = new Uint16Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (!(w <= FLOAT16_MAX && w >= -FLOAT16_MAX)) return null;
    out[i] = halfBits(bits[i]!);
  }
  if (!isLittleEndian) for (let i = 0; i < out.length; i++) out[i] = ((out[i]! & 0xff) << 8) | (out[i]! >>> 8);
  return new Uint8Array(out.buffer);
}

/** binary16 little-endian bytes → float32 weights. */
export function f32FromFloat16Bytes(b: Uint8Array): Float32Array {
  if (b.length % 2 !== 0) throw new RangeError(`a float16 vector needs an even number of bytes, got ${b.length}`);
  const out = new Float32Array(b.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = halfValue(b[2 * i]! | (b[2 * i + 1]! << 8));
  return out;
}

/** The model's weights for the wire in the run's encoding (float32 when float16 cannot hold them). */
export function encodeModelWeights(weights: Float32Array, encoding: ModelEncoding): { encoding: ModelEncoding; weights: Uint8Array } {
  if (encoding === 'float16') {
    const half = float16Bytes(weights);
    if (half) return { encoding, weights: half };
  }
  return { encoding: 'float32', weights: vectorBytes(weights) };
}

/** A task's model weights as float32, whatever their wire encoding (absent: float32): an array of the caller's own. */
export function decodeModelWeights(model: { encoding?: ModelEncoding | undefined; weights: Uint8Array }): Float32Array {
  // f32FromBytes is a view on the message's bytes; f32FromFloat16Bytes already allocates.
  return (model.encoding ?? 'float32') === 'float16' ? f32FromFloat16Bytes(model.weights) : f32FromBytes(model.weights).slice();
}
