/**
 * maskSlice (packages/secagg masks.ts) for a Node worker thread: the same AES-256-CTR keystream words (the
 * counter block holds the block number in its low 64 bits, big-endian, as expandWordsAt sets it; Node's CTR
 * increments the whole 128-bit block, which is the same below 2^64 blocks), but from node:crypto synchronously —
 * no hop through libuv's threadpool per mask — and summed in int32 lanes (wrapping mod 2^32, which 2^bits
 * divides), four at a time in WebAssembly SIMD where it runs (simdInt32Sum.ts), with one reduction mod 2^bits at
 * the end. Bit-for-bit the result of maskSlice (maskPool.test.ts).
 */
import { createCipheriv } from 'node:crypto';
import { endianness } from 'node:os';
import { maskSlice, type MaskTerm } from '@hushfl/secagg';
import { createSimdInt32Sum, type SimdInt32Sum } from './simdInt32Sum.ts';

const LITTLE_ENDIAN = endianness() === 'LE';
/**
 * Keystream bytes a cipher produces per update: 32 KiB stays in cache while it is added into the sums, where one
 * keystream of the whole slice (400 KB at d = 100 000) went out to memory and back; 27 % less time a mask word
 * (one core, 300 masks of 50 000 words: 9.2–9.7 → 6.7–7.3 ns, about 2 of them AES-CTR, the rest the int32 adds).
 */
const CHUNK_BYTES = 32768;
const zeros = Buffer.alloc(CHUNK_BYTES);

/** This thread's SIMD adder (null without WebAssembly SIMD: the scalar loop then). */
const simd = createSimdInt32Sum();
const WASM_PAGE = 65536;

/**
 * Each mask's keystream words [skip, skip + count), a chunk at a time, as (words, sign, where they land in the
 * slice): the first chunk drops the `skip` words before the slice starts, so both adders see slice words only.
 */
function forEachChunk(terms: readonly MaskTerm[], iv: Buffer, skip: number, count: number, add: (keystream: Buffer, sign: 1 | -1, at: number) => void): void {
  const streamWords = skip + count;
  for (const t of terms) {
    if (t.seed.length !== 32) throw new RangeError('mask seeds are 32 bytes');
    const cipher = createCipheriv('aes-256-ctr', t.seed, iv);
    for (let first = 0; first < streamWords; first += CHUNK_BYTES / 4) {
      const n = Math.min(CHUNK_BYTES / 4, streamWords - first);
      const keystream = cipher.update(n * 4 === CHUNK_BYTES ? zeros : zeros.subarray(0, n * 4));
      const drop = first < skip ? skip - first : 0;
      add(drop === 0 ? keystream : keystream.subarray(drop * 4), t.sign, first + drop - skip);
    }
  }
}

/** Σ ± keystream words in int32 lanes, four at a time. */
function sumSimd(sum: SimdInt32Sum, terms: readonly MaskTerm[], iv: Buffer, skip: number, count: number): Int32Array {
  // [0, CHUNK_BYTES + 16): one chunk's words (padded with zeros to 16 bytes); then the sums, padded likewise.
  const accAt = CHUNK_BYTES + 16;
  const accBytes = Math.ceil((count * 4) / 16) * 16 + 16;
  const need = accAt + accBytes;
  if (sum.memory.buffer.byteLength < need) sum.memory.grow(Math.ceil((need - sum.memory.buffer.byteLength) / WASM_PAGE));
  const heap = new Uint8Array(sum.memory.buffer);
  heap.fill(0, accAt, accAt + accBytes);
  forEachChunk(terms, iv, skip, count, (keystream, sign, at) => {
    const bytes = keystream.length;
    const padded = Math.ceil(bytes / 16) * 16;
    heap.set(keystream, 0);
    // Zeros past the chunk's words: the padded add then leaves the next words' sums as they are.
    heap.fill(0, bytes, padded);
    if (sign === 1) sum.add(accAt + at * 4, 0, padded);
    else sum.sub(accAt + at * 4, 0, padded);
  });
  return new Int32Array(sum.memory.buffer.slice(accAt, accAt + count * 4));
}

/** The same sums one lane at a time. */
function sumScalar(terms: readonly MaskTerm[], iv: Buffer, skip: number, count: number): Int32Array {
  const acc = new Int32Array(count);
  const aligned = new Int32Array(CHUNK_BYTES / 4);
  forEachChunk(terms, iv, skip, count, (keystream, sign, at) => {
    const n = keystream.length / 4;
    let words: Int32Array;
    if (keystream.byteOffset % 4 === 0) words = new Int32Array(keystream.buffer, keystream.byteOffset, n);
    else {
      // A pooled Buffer may start off a word boundary: copy into an aligned one.
      new Uint8Array(aligned.buffer).set(keystream);
      words = aligned;
    }
    if (sign === 1) for (let i = 0; i < n; i++) acc[at + i] = (acc[at + i]! + words[i]!) | 0;
    else for (let i = 0; i < n; i++) acc[at + i] = (acc[at + i]! - words[i]!) | 0;
  });
  return acc;
}

export function nodeMaskSliceSync(terms: readonly MaskTerm[], start: number, count: number, bits: number, useSimd = simd !== null): Uint32Array {
  const block = Math.floor(start / 4);
  const skip = start - 4 * block;
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(block), 8);
  const acc = useSimd && simd ? sumSimd(simd, terms, iv, skip, count) : sumScalar(terms, iv, skip, count);
  const out = new Uint32Array(acc.buffer, acc.byteOffset, count);
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
