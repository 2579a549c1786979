import { createCipheriv } from 'node:crypto';
import { ctr } from '@noble/ciphers/aes.js';
import { describe, expect, it } from 'vitest';
import { SecAggError } from './errors.ts';
import { aesCtrKeystream, aesGcmOpen, aesGcmSeal, expandMask, expandWords, expandWordsAt, hkdfSha256 } from './symmetric.ts';

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('HKDF-SHA256 (RFC 5869)', () => {
  it('reproduces test case 1', async () => {
    const okm = await hkdfSha256(hex('0b'.repeat(22)), hex('f0f1f2f3f4f5f6f7f8f9'), 42, hex('000102030405060708090a0b0c'));
    expect(toHex(okm)).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });

  it('reproduces test case 3 (empty salt and info)', async () => {
    const okm = await hkdfSha256(hex('0b'.repeat(22)), new Uint8Array(0), 42);
    expect(toHex(okm)).toBe('8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8');
  });
});

describe('AES-256-CTR (NIST SP 800-38A, F.5.5)', () => {
  it('keystream XOR plaintext gives the published ciphertext', async () => {
    const key = hex('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4');
    const ks = await aesCtrKeystream(key, hex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff'), 64);
    const pt = hex('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710');
    const ct = ks.map((b, i) => b ^ pt[i]!);
    expect(toHex(ct)).toBe('601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c52b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6');
  });
});

describe('expandMask (the mask PRG)', () => {
  it('equals the AES-256-CTR keystream from counter 0 computed by two other implementations', async () => {
    const seed = globalThis.crypto.getRandomValues(new Uint8Array(32));
    const count = 1000;
    const words = await expandMask(seed, count, 32);
    const node = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16)).update(Buffer.alloc(count * 4));
    const noble = ctr(seed, new Uint8Array(16)).encrypt(new Uint8Array(count * 4));
    const view = new DataView(node.buffer, node.byteOffset, node.byteLength);
    for (let i = 0; i < count; i++) expect(words[i]).toBe(view.getUint32(i * 4, true));
    expect(Buffer.from(noble).equals(node)).toBe(true);
  });

  it('keeps the low B bits, is deterministic and uses all 256 seed bits', async () => {
    const seed = new Uint8Array(32);
    const full = await expandMask(seed, 64, 32);
    const low = await expandMask(seed, 64, 12);
    for (let i = 0; i < 64; i++) expect(low[i]).toBe(full[i]! & 0xfff);
    expect(Array.from(await expandMask(seed, 64, 12))).toEqual(Array.from(low));
    const flipped = seed.slice();
    flipped[31] = 1; // the last byte matters: no folding of the seed
    expect(Array.from(await expandMask(flipped, 64, 32))).not.toEqual(Array.from(full));
  });
});

describe('expandWordsAt (a mask by coordinate ranges)', () => {
  it('is the same words as the whole keystream, at any start (aligned to a block or not)', async () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
    const whole = await expandWords(seed, 1000);
    for (const [start, count] of [
      [0, 1000],
      [4, 96],
      [5, 3],
      [7, 500],
      [999, 1],
      [1000, 0],
    ] as const) {
      expect(Array.from(await expandWordsAt(seed, start, count)), `[${start}, +${count})`).toEqual(Array.from(whole.subarray(start, start + count)));
    }
  });

  it('agrees with an independent AES-256-CTR (noble) past a counter block that carries into the next byte', async () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
    const start = 4 * 300; // block 300 = 0x012c: the low counter byte wrapped
    const iv = new Uint8Array(16);
    new DataView(iv.buffer).setBigUint64(8, 300n, false);
    const want = new Uint32Array(ctr(seed, iv).encrypt(new Uint8Array(64)).buffer);
    expect(Array.from(await expandWordsAt(seed, start, 16))).toEqual(Array.from(want));
    await expect(expandWordsAt(seed, -1, 4)).rejects.toBeInstanceOf(SecAggError);
  });
});

describe('AES-256-GCM', () => {
  it('opens the GCM specification’s test case 16 (256-bit key, AAD)', async () => {
    const key = hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308');
    const iv = hex('cafebabefacedbaddecaf888');
    const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
    const ct = hex('522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662');
    const tag = hex('76fc6ece0f4e1768cddf8853bb2d551b');
    const pt = await aesGcmOpen(key, new Uint8Array([...iv, ...ct, ...tag]), aad);
    expect(toHex(pt)).toBe('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');
  });

  it('round-trips and rejects a flipped bit or the wrong associated data', async () => {
    const key = globalThis.crypto.getRandomValues(new Uint8Array(32));
    const aad = new TextEncoder().encode('from=1|to=2');
    const sealed = await aesGcmSeal(key, new Uint8Array([1, 2, 3]), aad);
    expect(Array.from(await aesGcmOpen(key, sealed, aad))).toEqual([1, 2, 3]);
    const tampered = sealed.slice();
    tampered[14]! ^= 1;
    await expect(aesGcmOpen(key, tampered, aad, 7)).rejects.toMatchObject({ code: 'auth-failed', clientId: 7 });
    await expect(aesGcmOpen(key, sealed, new TextEncoder().encode('from=1|to=3'))).rejects.toBeInstanceOf(SecAggError);
  });
});
