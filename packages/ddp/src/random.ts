/**
 * Randomness for the mechanism: a batched word source over a CSPRNG.
 *
 * Every random decision in packages/ddp (rounding, noise) draws from a `RandomWords`. Two sources exist:
 * `cryptoRandomWords()` (the operating system's CSPRNG through `crypto.getRandomValues`, batched 64 KiB at a
 * time) for real encodings, and `chachaRandomWords(seed)` (the ChaCha20 keystream, RFC 8439) for values that
 * every party must derive identically from a shared seed (the rotation's signs) and for reproducible tests.
 * No non-cryptographic generator (the language's built-in one included) is ever used.
 */
import { chacha20 } from '@noble/ciphers/chacha.js';

const WORDS_PER_BATCH = 16384; // 64 KiB: the most one getRandomValues call may fill.

/** A stream of uniform 32-bit words with a small bit reservoir for cheap coin flips. */
export class RandomWords {
  private readonly buf: Uint32Array;
  private pos: number;
  private reservoir = 0;
  private reservoirBits = 0;

  constructor(private readonly refill: (out: Uint32Array) => void) {
    this.buf = new Uint32Array(WORDS_PER_BATCH);
    this.pos = WORDS_PER_BATCH;
  }

  /** A uniform integer in [0, 2^32). */
  next(): number {
    if (this.pos === WORDS_PER_BATCH) {
      this.refill(this.buf);
      this.pos = 0;
    }
    return this.buf[this.pos++]!;
  }

  /** Fills `out` with the stream's next words (in stream order), in bulk. */
  fill(out: Uint32Array): void {
    let o = 0;
    while (o < out.length) {
      if (this.pos === WORDS_PER_BATCH) {
        this.refill(this.buf);
        this.pos = 0;
      }
      const take = Math.min(WORDS_PER_BATCH - this.pos, out.length - o);
      out.set(this.buf.subarray(this.pos, this.pos + take), o);
      this.pos += take;
      o += take;
    }
  }

  /**
   * A uniform integer in [0, 2^n) for 1 <= n <= 30, taken from a 30-bit reservoir. 30 bits keep every value a
   * small integer in V8 (no heap-number boxing on the sampler's hot path); the two spare bits are discarded.
   */
  bits(n: number): number {
    if (this.reservoirBits < n) {
      this.reservoir = this.next() & 0x3fffffff;
      this.reservoirBits = 30;
    }
    const v = this.reservoir & ((1 << n) - 1);
    this.reservoir >>>= n;
    this.reservoirBits -= n;
    return v;
  }

  /** One fair bit. */
  bit(): number {
    return this.bits(1);
  }
}

/** Words from the platform CSPRNG (`crypto.getRandomValues`; Node >= 19 and every browser/Worker have it). */
export function cryptoRandomWords(): RandomWords {
  const c = globalThis.crypto;
  if (!c || typeof c.getRandomValues !== 'function') {
    throw new Error('crypto.getRandomValues is unavailable: a CSPRNG is required (use a secure context in browsers)');
  }
  return new RandomWords((out) => {
    c.getRandomValues(out as Uint32Array<ArrayBuffer>);
  });
}

/**
 * Words from the ChaCha20 keystream under a 32-byte key (nonce 0, block counter advancing), so the same seed
 * yields the same words in every runtime. The stream is bounded by the 32-bit block counter: 256 GiB.
 */
export function chachaRandomWords(seed: Uint8Array): RandomWords {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new TypeError('seed must be a 32-byte Uint8Array');
  const key = seed.slice();
  const nonce = new Uint8Array(12);
  const blocksPerBatch = (WORDS_PER_BATCH * 4) / 64;
  let counter = 0;
  let zeros: Uint8Array | undefined;
  return new RandomWords((out) => {
    if (counter + blocksPerBatch > 0xffffffff) throw new Error('ChaCha20 stream exhausted for this seed');
    zeros ??= new Uint8Array(out.byteLength);
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    chacha20(key, nonce, zeros, bytes, counter);
    counter += blocksPerBatch;
    littleEndianInPlace(out);
  });
}

const isLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Reads the words as little-endian on any host so ChaCha-derived words agree across platforms. */
function littleEndianInPlace(words: Uint32Array): void {
  if (isLittleEndian) return;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    words[i] = ((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24);
  }
}

/** A fresh 32-byte seed from the platform CSPRNG. */
export function randomSeed(): Uint8Array {
  const s = new Uint8Array(32);
  globalThis.crypto.getRandomValues(s);
  return s;
}

/** Fisher–Yates with exact rejection sampling: every permutation equally likely (given uniform words). */
export function shuffleInPlace<A extends { length: number; [index: number]: unknown }>(a: A, rw: RandomWords): void {
  for (let i = a.length - 1; i > 0; i--) {
    const m = i + 1;
    const limit = 4294967296 - (4294967296 % m);
    let w = rw.next();
    while (w >= limit) w = rw.next();
    const j = w % m;
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
