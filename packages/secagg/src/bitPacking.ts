/**
 * Ring vectors on the wire at B bits a coordinate (issue 18 §1): d′ words of Z_{2^B} take ceil(d′·B/8)
 * bytes, not 4·d′. Little-endian bit order: word i occupies bits [i·B, (i+1)·B) of the byte string, the low
 * bit first. The encoding is canonical — the padding bits of the last byte are zero, and a decoder refuses
 * anything else — so one vector has exactly one packing.
 */
import { ringMask, wordsAsBytes } from './vector.ts';

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 32) throw new RangeError(`bits must be an integer in [1, 32], got ${bits}`);
}

/** Bytes that `count` words take at `bits` each. */
export function packedLength(count: number, bits: number): number {
  return Math.ceil((count * bits) / 8);
}

/** The words (each below 2^bits) packed at `bits` a word. */
export function packWords(words: Uint32Array, bits: number): Uint8Array {
  checkBits(bits);
  const out = new Uint8Array(packedLength(words.length, bits));
  if (bits === 32) {
    out.set(wordsAsBytes(words));
    return out;
  }
  if (bits === 16) {
    for (let i = 0, o = 0; i < words.length; i++, o += 2) {
      const w = words[i]!;
      out[o] = w;
      out[o + 1] = w >>> 8;
    }
    return out;
  }
  if (bits === 8) {
    out.set(words); // a Uint8Array keeps each value mod 2^8
    return out;
  }
  const mask = ringMask(bits);
  // acc holds the n (< 32) pending bits, lowest first; a full 32 go out as 4 bytes.
  let acc = 0;
  let n = 0;
  let o = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]! & mask;
    acc |= w << n;
    n += bits;
    if (n >= 32) {
      out[o] = acc;
      out[o + 1] = acc >>> 8;
      out[o + 2] = acc >>> 16;
      out[o + 3] = acc >>> 24;
      o += 4;
      n -= 32;
      acc = n === 0 ? 0 : w >>> (bits - n); // the bits of w that did not fit
    }
  }
  for (; n > 0; n -= 8) {
    out[o++] = acc;
    acc >>>= 8;
  }
  return out;
}

/** `count` words of `bits` each from their packing; RangeError for a wrong length or non-zero padding. */
export function unpackWords(packed: Uint8Array, count: number, bits: number): Uint32Array {
  checkBits(bits);
  const want = packedLength(count, bits);
  if (packed.length !== want) throw new RangeError(`${count} words of ${bits} bits take ${want} bytes, got ${packed.length}`);
  const out = new Uint32Array(count);
  if (bits === 32) {
    const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
    for (let i = 0; i < count; i++) out[i] = view.getUint32(4 * i, true);
    return out;
  }
  if (bits === 16) {
    for (let i = 0, p = 0; i < count; i++, p += 2) out[i] = packed[p]! | (packed[p + 1]! << 8);
    return out;
  }
  if (bits === 8) {
    out.set(packed);
    return out;
  }
  // acc < 2^(bits + 8) ≤ 2^39: exact in a double, so the split needs no 64-bit integers.
  const unit = 2 ** bits;
  let acc = 0;
  let scale = 1; // 2^(bits held in acc)
  let p = 0;
  for (let i = 0; i < count; i++) {
    while (scale < unit) {
      acc += packed[p++]! * scale;
      scale *= 256;
    }
    const w = acc % unit;
    out[i] = w;
    acc = (acc - w) / unit;
    scale /= unit;
  }
  if (acc !== 0) throw new RangeError('the padding bits of a packed vector must be zero');
  return out;
}
