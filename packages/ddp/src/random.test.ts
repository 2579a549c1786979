import { describe, expect, it } from 'vitest';
import { chachaRandomWords, cryptoRandomWords, randomSeed } from './random.ts';

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));

describe('chachaRandomWords', () => {
  it('is the ChaCha20 keystream of RFC 8439 (Appendix A.1, test vector #1: zero key, zero nonce, counter 0)', () => {
    const rw = chachaRandomWords(new Uint8Array(32));
    const expected = hex(
      '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7' + 'da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586',
    );
    const view = new DataView(expected.buffer);
    for (let i = 0; i < 16; i++) expect(rw.next()).toBe(view.getUint32(i * 4, true));
  });

  it('continues the keystream across batches (counter advances, no repeats)', () => {
    const seed = randomSeed();
    const a = chachaRandomWords(seed);
    const first = Array.from({ length: 16384 }, () => a.next());
    const second = Array.from({ length: 16384 }, () => a.next());
    expect(second.slice(0, 16)).not.toEqual(first.slice(0, 16));
    const b = chachaRandomWords(seed);
    for (let i = 0; i < 16384; i++) b.next();
    expect(b.next()).toBe(second[0]);
  });

  it('refuses seeds that are not 32 bytes', () => {
    expect(() => chachaRandomWords(new Uint8Array(16))).toThrow(/32-byte/);
  });
});

describe('RandomWords.fill', () => {
  it('hands out the same words, in stream order, as next() would, across batch boundaries', () => {
    const seed = new Uint8Array(32).fill(7);
    const a = chachaRandomWords(seed);
    const b = chachaRandomWords(seed);
    a.next();
    b.next();
    const out = new Uint32Array(40000); // spans three 16 384-word batches
    a.fill(out);
    for (let i = 0; i < out.length; i++) if (out[i] !== b.next()) throw new Error(`word ${i} differs`);
    expect(a.next()).toBe(b.next());
  });
});

describe('RandomWords.bits', () => {
  it('gives each bit position a fair coin', () => {
    const rw = cryptoRandomWords();
    const n = 40_000;
    const ones = new Array<number>(7).fill(0);
    for (let i = 0; i < n; i++) {
      const v = rw.bits(7);
      for (let b = 0; b < 7; b++) ones[b]! += (v >> b) & 1;
    }
    for (const c of ones) expect(Math.abs(c / n - 0.5)).toBeLessThan(5 * Math.sqrt(0.25 / n));
  });
});
