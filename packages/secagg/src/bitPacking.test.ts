/**
 * B-bit packing of ring vectors (issue 18 §1): the bytes are those of the integer Σ w_i·2^(i·B) in little
 * endian (a reference computed here in BigInt, independently), they decode back, and any other length or
 * non-zero padding is refused.
 */
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { packedLength, packWords, unpackWords } from './bitPacking.ts';

function reference(words: Uint32Array, bits: number): Uint8Array {
  let v = 0n;
  for (let i = words.length - 1; i >= 0; i--) v = (v << BigInt(bits)) | BigInt(words[i]!);
  const out = new Uint8Array(Math.ceil((words.length * bits) / 8));
  for (let i = 0; i < out.length; i++) {
    out[i] = Number(v & 255n);
    v >>= 8n;
  }
  return out;
}

describe('packWords / unpackWords', () => {
  it('packs d words at B bits in ceil(d·B/8) bytes, as the reference integer, and decodes them back', () => {
    for (let run = 0; run < 2000; run++) {
      const bits = 1 + (run % 32);
      const words = Uint32Array.from({ length: randomInt(0, 71) }, () => randomInt(0, 2 ** Math.min(bits, 47)) % 2 ** bits);
      const packed = packWords(words, bits);
      expect(packed.length).toBe(packedLength(words.length, bits));
      expect(packed).toEqual(reference(words, bits));
      expect(unpackWords(packed, words.length, bits)).toEqual(words);
    }
  });

  it('takes the extremes of every width: all zeros, all ones, alternating', () => {
    for (let bits = 1; bits <= 32; bits++) {
      const top = 2 ** bits - 1;
      for (const words of [new Uint32Array(33), new Uint32Array(33).fill(top), Uint32Array.from({ length: 33 }, (_, i) => (i % 2 ? top : 0))]) {
        expect(unpackWords(packWords(words, bits), 33, bits)).toEqual(words);
        expect(packWords(words, bits)).toEqual(reference(words, bits));
      }
    }
  });

  it('halves a 16-bit masked input against 32-bit words, and takes 12 bits in 1.5 bytes', () => {
    expect(packWords(new Uint32Array(65_536), 16).length).toBe(131_072);
    expect(packWords(new Uint32Array(65_536), 12).length).toBe(98_304);
    expect(packWords(new Uint32Array(3), 12).length).toBe(5);
  });

  it('refuses a wrong length, non-zero padding and bad widths', () => {
    const packed = packWords(Uint32Array.from([1, 2, 3]), 12); // 36 bits: 5 bytes, 4 padding bits
    expect(() => unpackWords(packed.subarray(0, 4), 3, 12)).toThrow(/take 5 bytes, got 4/);
    expect(() => unpackWords(Uint8Array.from([...packed, 0]), 3, 12)).toThrow(/take 5 bytes, got 6/);
    const padded = packed.slice();
    padded[4]! |= 0x80;
    expect(() => unpackWords(padded, 3, 12)).toThrow(/padding bits/);
    for (const bits of [0, 33, 1.5]) {
      expect(() => packWords(new Uint32Array(1), bits)).toThrow(/bits must be an integer/);
      expect(() => unpackWords(new Uint8Array(1), 1, bits)).toThrow(/bits must be an integer/);
    }
  });
});
