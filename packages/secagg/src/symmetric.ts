/**
 * Symmetric primitives: HKDF-SHA256 (RFC 5869) for pairwise keys and seeds — synchronous, from
 * @noble/hashes, because a client derives dozens of them and WebCrypto's per-call overhead dominated —
 * and, over WebCrypto (every browser, Worker and Node 20), AES-256-GCM for share ciphertexts and the mask
 * PRG: the AES-256-CTR keystream under a 32-byte seed (NIST SP 800-38A), read as little-endian words.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { SecAggError } from './errors.ts';

const subtle = (): SubtleCrypto => {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('WebCrypto (crypto.subtle) is unavailable: SecAgg needs a secure context');
  return s;
};

function buf(u: Uint8Array): Uint8Array<ArrayBuffer> {
  return u.buffer instanceof ArrayBuffer ? (u as Uint8Array<ArrayBuffer>) : Uint8Array.from(u);
}

const text = new TextEncoder();
export const utf8 = (s: string): Uint8Array => text.encode(s);

/** HKDF-SHA256(ikm, salt (default empty), info) → `length` bytes. */
export function hkdfSha256(ikm: Uint8Array, info: Uint8Array, length: number, salt: Uint8Array = new Uint8Array(0)): Uint8Array {
  return hkdf(nobleSha256, ikm, salt, info, length);
}

/** The byte strings one after another (for hashed and signed encodings). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const GCM_OVERHEAD = NONCE_BYTES + TAG_BYTES;

/** AES-256-GCM with a fresh random 96-bit nonce: returns nonce ‖ ciphertext ‖ tag. */
export async function aesGcmSeal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', buf(key), 'AES-GCM', false, ['encrypt']);
  const nonce = globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const ct = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData: buf(aad) }, k, buf(plaintext)));
  const out = new Uint8Array(NONCE_BYTES + ct.length);
  out.set(nonce);
  out.set(ct, NONCE_BYTES);
  return out;
}

/** Opens nonce ‖ ciphertext ‖ tag; throws SecAggError('auth-failed') when authentication fails. */
export async function aesGcmOpen(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array, sender?: number): Promise<Uint8Array> {
  if (sealed.length < GCM_OVERHEAD) throw new SecAggError('auth-failed', 'ciphertext too short', sender);
  const k = await subtle().importKey('raw', buf(key), 'AES-GCM', false, ['decrypt']);
  try {
    return new Uint8Array(
      await subtle().decrypt({ name: 'AES-GCM', iv: sealed.slice(0, NONCE_BYTES), additionalData: buf(aad) }, k, sealed.slice(NONCE_BYTES)),
    );
  } catch {
    throw new SecAggError('auth-failed', `share ciphertext${sender === undefined ? '' : ` from client ${sender}`} failed AES-GCM authentication`, sender);
  }
}

/** AES-256-CTR keystream bytes from a 16-byte initial counter block (64-bit counter field). */
export async function aesCtrKeystream(key: Uint8Array, counter: Uint8Array, length: number): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', buf(key), 'AES-CTR', false, ['encrypt']);
  return new Uint8Array(await subtle().encrypt({ name: 'AES-CTR', counter: buf(counter), length: 64 }, k, zeros(length)));
}

let zeroPool = new Uint8Array(0);
function zeros(length: number): Uint8Array<ArrayBuffer> {
  if (zeroPool.length < length) zeroPool = new Uint8Array(Math.max(length, zeroPool.length * 2));
  return zeroPool.subarray(0, length);
}

const isLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The PRG's raw output: `count` uniform 32-bit words, the AES-256-CTR keystream under the 32-byte seed
 * (counter block 0) read little-endian. The full 256-bit seed keys AES: nothing is folded or truncated.
 */
export async function expandWords(seed: Uint8Array, count: number): Promise<Uint32Array> {
  return expandWordsAt(seed, 0, count);
}

/**
 * Words [start, start + count) of `expandWords(seed, ·)` without the ones before: CTR mode is seekable, so the
 * keystream from block ⌊start/4⌋ is the counter block with that block number in its low 64 bits (the
 * counter length aesCtrKeystream uses). Unmasking splits a mask by coordinate ranges this way (issue 17 §2).
 */
export async function expandWordsAt(seed: Uint8Array, start: number, count: number): Promise<Uint32Array> {
  if (seed.length !== 32) throw new SecAggError('bad-message', 'mask seeds are 32 bytes');
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(count) || count < 0)
    throw new SecAggError('bad-parameters', `bad keystream range [${start}, ${start}+${count})`);
  const block = Math.floor(start / 4);
  const skip = start - 4 * block;
  const counter = new Uint8Array(16);
  new DataView(counter.buffer).setBigUint64(8, BigInt(block), false);
  const bytes = await aesCtrKeystream(seed, counter, (count + skip) * 4);
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset + skip * 4, count);
  if (!isLittleEndian) {
    const view = new DataView(bytes.buffer, bytes.byteOffset + skip * 4, count * 4);
    for (let i = 0; i < count; i++) words[i] = view.getUint32(i * 4, true);
  }
  return words;
}

/**
 * The mask PRG: `count` values uniform in [0, 2^bits), the low `bits` bits of the words of `expandWords`
 * (uniform because 2^bits divides 2^32). Adding the raw words and reducing mod 2^B gives the same result,
 * which is what the masking code does to save a pass.
 */
export async function expandMask(seed: Uint8Array, count: number, bits: number): Promise<Uint32Array> {
  const words = await expandWords(seed, count);
  if (bits < 32) {
    const mask = 2 ** bits - 1;
    for (let i = 0; i < count; i++) words[i]! &= mask;
  }
  return words;
}
