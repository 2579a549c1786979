/**
 * maskSlice (packages/secagg masks.ts) for a Node worker thread: the same AES-256-CTR keystream words (the
 * counter block holds the block number in its low 64 bits, big-endian, as expandWordsAt sets it; Node's CTR
 * increments the whole 128-bit block, which is the same below 2^64 blocks), but from node:crypto synchronously —
 * no hop through libuv's threadpool per mask — and summed in int32 lanes (wrapping mod 2^32, which 2^bits
 * divides) with one reduction mod 2^bits at the end. Bit-for-bit the result of maskSlice (maskPool.test.ts).
 */
import { createCipheriv } from 'node:crypto';
import { endianness } from 'node:os';
import { maskSlice, type MaskTerm } from '@hushfl/secagg';

const LITTLE_ENDIAN = endianness() === 'LE';
let zeros = Buffer.alloc(0);

export function nodeMaskSliceSync(terms: readonly MaskTerm[], start: number, count: number, bits: number): Uint32Array {
  const block = Math.floor(start / 4);
  const skip = start - 4 * block;
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(block), 8);
  const length = (count + skip) * 4;
  if (zeros.length < length) zeros = Buffer.alloc(length);
  const input = zeros.subarray(0, length);
  const acc = new Int32Array(count);
  let aligned = new Int32Array(0);
  for (const t of terms) {
    if (t.seed.length !== 32) throw new RangeError('mask seeds are 32 bytes');
    const keystream = createCipheriv('aes-256-ctr', t.seed, iv).update(input);
    const offset = keystream.byteOffset + skip * 4;
    let words: Int32Array;
    if (offset % 4 === 0) words = new Int32Array(keystream.buffer, offset, count);
    else {
      // A pooled Buffer may start off a word boundary: copy into an aligned one.
      if (aligned.length < count) aligned = new Int32Array(count);
      new Uint8Array(aligned.buffer).set(keystream.subarray(skip * 4, skip * 4 + count * 4));
      words = aligned;
    }
    if (t.sign === 1) for (let i = 0; i < count; i++) acc[i] = (acc[i]! + words[i]!) | 0;
    else for (let i = 0; i < count; i++) acc[i] = (acc[i]! - words[i]!) | 0;
  }
  const out = new Uint32Array(acc.buffer);
  if (bits < 32) {
    const mask = 2 ** bits - 1;
    for (let i = 0; i < count; i++) out[i]! &= mask;
  }
  return out;
}

/** nodeMaskSliceSync where the host reads the keystream little-endian, else the portable maskSlice. */
export function nodeMaskSlice(terms: readonly MaskTerm[], start: number, count: number, bits: number): Promise<Uint32Array> {
  return LITTLE_ENDIAN ? Promise.resolve(nodeMaskSliceSync(terms, start, count, bits)) : maskSlice(terms, start, count, bits);
}
