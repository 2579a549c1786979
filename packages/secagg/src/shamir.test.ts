import { describe, expect, it } from 'vitest';
import { FIELD_PRIME, invert, mod } from './field.ts';
import { decodeShare, encodeShare, reconstructSecret, splitSecret, type ShamirShare } from './shamir.ts';

function subsets<T>(items: T[], size: number): T[][] {
  if (size === 0) return [[]];
  if (items.length < size) return [];
  const [head, ...rest] = items;
  return [...subsets(rest, size - 1).map((s) => [head!, ...s]), ...subsets(rest, size)];
}

describe('the field GF(2^256 + 297)', () => {
  it('has a prime modulus (Miller–Rabin, 24 bases) larger than every 32-byte secret', () => {
    const n = FIELD_PRIME;
    expect(n > 1n << 256n).toBe(true);
    let d = n - 1n;
    let s = 0;
    while (d % 2n === 0n) {
      d /= 2n;
      s++;
    }
    const powmod = (b: bigint, e: bigint) => {
      let r = 1n;
      b %= n;
      while (e > 0n) {
        if (e & 1n) r = (r * b) % n;
        b = (b * b) % n;
        e >>= 1n;
      }
      return r;
    };
    for (const a of [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n, 41n, 43n, 47n, 53n, 59n, 61n, 67n, 71n, 73n, 79n, 83n, 89n]) {
      let x = powmod(a, d);
      if (x === 1n || x === n - 1n) continue;
      let composite = true;
      for (let r = 1; r < s; r++) {
        x = (x * x) % n;
        if (x === n - 1n) {
          composite = false;
          break;
        }
      }
      expect(composite).toBe(false);
    }
  });

  it('inverts', () => {
    for (const a of [1n, 2n, 12345678901234567890n, FIELD_PRIME - 1n]) expect(mod(a * invert(a))).toBe(1n);
  });
});

describe('Shamir sharing', () => {
  it('reconstructs from every t-subset of the shares (k = 7, t = 4), x = holder id', () => {
    const secret = globalThis.crypto.getRandomValues(new Uint8Array(32));
    const holders = [3, 8, 11, 20, 41, 42, 1000];
    const shares = splitSecret(secret, holders, 4);
    expect([...shares.keys()]).toEqual(holders);
    for (const [x, s] of shares) expect(s.x).toBe(x);
    const all = [...shares.values()];
    let checked = 0;
    for (const subset of subsets(all, 4)) {
      expect(Array.from(reconstructSecret(subset, 4))).toEqual(Array.from(secret));
      checked++;
    }
    expect(checked).toBe(35);
    // More than t shares also work, in any order.
    expect(Array.from(reconstructSecret([...all].reverse(), 4))).toEqual(Array.from(secret));
  });

  it('t − 1 shares interpolate to an unrelated value', () => {
    const secret = new Uint8Array(32).fill(7);
    const shares = [...splitSecret(secret, [1, 2, 3, 4, 5], 3).values()];
    let wrong: Uint8Array | null = null;
    try {
      wrong = reconstructSecret(shares.slice(0, 2), 2);
    } catch {
      // an interpolated value above 2^256 is refused: also not the secret
    }
    if (wrong) expect(Array.from(wrong)).not.toEqual(Array.from(secret));
  });

  it('refuses too few shares, duplicate or zero x and out-of-field shares', () => {
    const shares = [...splitSecret(new Uint8Array(32), [1, 2, 3], 2).values()];
    expect(() => reconstructSecret(shares.slice(0, 1), 2)).toThrow(/need 2 shares/);
    expect(() => reconstructSecret([shares[0]!, shares[0]!], 2)).toThrow(/duplicate/);
    expect(() => reconstructSecret([{ x: 0, y: 1n }, shares[1]!] as ShamirShare[], 2)).toThrow(/x-coordinate/);
    expect(() => decodeShare(1, new Uint8Array(32))).toThrow(/33 bytes/);
    expect(() => decodeShare(1, new Uint8Array(33).fill(0xff))).toThrow(/not a field element/);
    expect(() => splitSecret(new Uint8Array(32), [1, 2], 3)).toThrow(/threshold/);
  });

  it('encodes shares as 33 big-endian bytes', () => {
    const s = { x: 9, y: FIELD_PRIME - 1n };
    expect(decodeShare(9, encodeShare(s))).toEqual(s);
  });
});
