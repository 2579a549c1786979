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
import { createSimdInt32Sum } from './simdInt32Sum.ts';

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

/** The keystream words [first, first + n) of each mask's stream, as (stream chunk, where it lands) to `add`. */
function forEachChunk(
  terms: readonly MaskTerm[],
  iv: Buffer,
  streamWords: number,
  add: (keystream: Buffer, sign: 1 | -1, first: number, n: number) => void,
): void {
  for (const t of terms) {
    if (t.seed.length !== 32) throw new RangeError('mask seeds are 32 bytes');
    const cipher = createCipheriv('aes-256-ctr', t.seed, iv);
    for (let first = 0; first < streamWords; first += CHUNK_BYTES / 4) {
      const n = Math.min(CHUNK_BYTES / 4, streamWords - first);
      add(cipher.update(n * 4 === CHUNK_BYTES ? zeros : zeros.subarray(0, n * 4)), t.sign, first, n);
    }
  }
}

/** Σ ± keystream words in int32 lanes, four at a time: slice word j = stream word j + skip. */
function sumSimd(terms: readonly MaskTerm[], iv: Buffer, skip: number, count: number): Int32Array {
  const sum = simd!;
  // [0, CHUNK_BYTES + 16): one chunk's words (padded with zeros to 16 bytes); then the sums, padded likewise.
  const accAt = CHUNK_BYTES + 16;
  const accBytes = Math.ceil((count * 4) / 16) * 16 + 16;
  const need = accAt + accBytes;
  if (sum.memory.buffer.byteLength < need) sum.memory.grow(Math.ceil((need - sum.memory.buffer.byteLength) / WASM_PAGE));
  const heap = new Uint8Array(sum.memory.buffer);
  heap.fill(0, accAt, accAt + accBytes);
  forEachChunk(terms, iv, count + skip, (keystream, sign, first, n) => {
    const drop = first < skip ? skip - first : 0;
    const bytes = (n - drop) * 4;
    const padded = Math.ceil(bytes / 16) * 16;
    heap.set(keystream.subarray(drop * 4), 0);
    // Zeros past the chunk's words: the padded add then leaves the next words' sums as they are.
    heap.fill(0, bytes, padded);
    const at = accAt + (first + drop - skip) * 4;
    if (sign === 1) sum.add(at, 0, padded);
    else sum.sub(at, 0, padded);
  });
  return new Int32Array(sum.memory.buffer.slice(accAt, accAt + count * 4));
}

/** The same sums one lane at a time. */
function sumScalar(terms: readonly MaskTerm[], iv: Buffer, skip: number, count: number): Int32Array {
  const acc = new Int32Array(count);
  const aligned = new Int32Array(CHUNK_BYTES / 4);
  forEachChunk(terms, iv, count + skip, (keystream, sign, first, n) => {
    let words: Int32Array;
    if (keystream.byteOffset % 4 === 0) words = new Int32Array(keystream.buffer, keystream.byteOffset, n);
    else {
      // A pooled Buffer may start off a word boundary: copy into an aligned one.
      new Uint8Array(aligned.buffer).set(keystream);
      words = aligned;
    }
    // Stream words [first, first + n) land on acc[first − skip …]; the first chunk drops its `skip` words.
    const from = first < skip ? skip - first : 0;
    const base = first - skip;
    if (sign === 1) for (let i = from; i < n; i++) acc[base + i] = (acc[base + i]! + words[i]!) | 0;
    else for (let i = from; i < n; i++) acc[base + i] = (acc[base + i]! - words[i]!) | 0;
  });
  return acc;
}

export function nodeMaskSliceSync(terms: readonly MaskTerm[], start: number, count: number, bits: number, useSimd = simd !== null): Uint32Array {
  const block = Math.floor(start / 4);
  const skip = start - 4 * block;
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(block), 8);
  const acc = useSimd && simd ? sumSimd(terms, iv, skip, count) : sumScalar(terms, iv, skip, count);
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
