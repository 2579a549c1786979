/**
 * Gao decoding of Shamir shares (reedSolomon.ts): every correctable error count is corrected with the liars
 * named exactly; one more is refused or, when steered to another codeword, caught only by the caller's
 * commitment check (which is why the server verifies every decoded secret). fast-check is not installed, so
 * the properties run as seeded loops.
 */
import { describe, expect, it } from 'vitest';
import { FIELD_PRIME, bytesToBigInt, mod } from './field.ts';
import { polyEval, polyFromRoots } from './poly.ts';
import { decodeShares } from './reedSolomon.ts';
import { reconstructSecret, splitSecret, type ShamirShare } from './shamir.ts';

/** A seeded generator for test values only. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  const int = (n: number) => next() % n;
  const field = () => {
    let v = 0n;
    for (let i = 0; i < 9; i++) v = (v << 32n) | BigInt(next());
    return v % FIELD_PRIME;
  };
  /** k distinct elements of `from`, in random order. */
  const pick = <T>(from: readonly T[], k: number): T[] => {
    const a = from.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a.slice(0, k);
  };
  return { int, field, pick };
}

type Rng = ReturnType<typeof rng>;

/** Random distinct client ids, some small, some near 2^32. */
function ids(r: Rng, m: number): number[] {
  const out = new Set<number>();
  while (out.size < m) out.add(r.int(4) === 0 ? 0xffffffff - r.int(1000) : 1 + r.int(r.int(2) ? 50 : 0xfffffffe));
  return [...out];
}

function share(f: readonly bigint[], xs: readonly number[]): ShamirShare[] {
  return xs.map((x) => ({ x, y: polyEval(f, BigInt(x)) }));
}

/** Replaces the shares at `liars` by other field elements (never the true value). */
function corrupt(r: Rng, shares: readonly ShamirShare[], liars: ReadonlySet<number>): ShamirShare[] {
  return shares.map((s) => (liars.has(s.x) ? { x: s.x, y: mod(s.y + 1n + (r.field() % (FIELD_PRIME - 1n))) } : s));
}

describe('Reed–Solomon decoding of Shamir shares (Gao)', () => {
  it('corrects every error count 0 … ⌊(m − t)/2⌋ at random positions and names exactly the liars', () => {
    const r = rng(20260101);
    let cases = 0;
    for (let trial = 0; trial < 60; trial++) {
      const t = 1 + r.int(8);
      const m = t + r.int(12);
      const f = Array.from({ length: t }, () => r.field());
      const xs = ids(r, m);
      const honest = share(f, xs);
      const bound = Math.floor((m - t) / 2);
      for (let e = 0; e <= bound; e++) {
        const liars = new Set(r.pick(xs, e));
        const got = decodeShares(r.pick(corrupt(r, honest, liars), m), t);
        expect(got).toEqual({ ok: true, secret: f[0], wrong: [...liars].sort((a, b) => a - b), correctable: bound });
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(150);
  });

  it('one error too many: refused, or (steered) a different codeword that the commitment check must catch', () => {
    const r = rng(7);
    for (let trial = 0; trial < 60; trial++) {
      const t = 1 + r.int(6);
      const m = t + 1 + r.int(10);
      const f = Array.from({ length: t }, () => r.field());
      const xs = ids(r, m);
      const e = Math.floor((m - t) / 2) + 1;
      const liars = new Set(r.pick(xs, e));
      const got = decodeShares(corrupt(r, share(f, xs), liars), t);
      // Random errors are within the decoding radius of another codeword with probability ≈ 1/p.
      expect(got).toMatchObject({ ok: false, reason: 'too-many-errors' });
    }
  });

  it('an adversary with one share too many steers the decoding to its own codeword, blaming honest holders', () => {
    const r = rng(99);
    for (let trial = 0; trial < 30; trial++) {
      const t = 1 + r.int(6);
      const k = 1 + r.int(4);
      const m = t + 2 * k; // corrects k; the adversary controls k + 1
      const xs = ids(r, m);
      const f = Array.from({ length: t }, () => r.field());
      // f' = f + c·Π_{x ∈ A}(X − x) agrees with f on the t − 1 points A; the liars C (k + 1) report f',
      // the honest B (k) report f: the shares are k + 1 from f and k from f'.
      const [a, c] = [xs.slice(0, t - 1), new Set(xs.slice(t - 1, t + k))];
      const scale = 1n + r.field();
      const h = polyFromRoots(a.map(BigInt)).map((co) => mod(co * scale));
      const f2 = f.map((co, i) => mod(co + (h[i] ?? 0n)));
      const shares = xs.map((x) => ({ x, y: polyEval(c.has(x) ? f2 : f, BigInt(x)) }));
      const got = decodeShares(shares, t);
      expect(got.ok).toBe(true);
      if (!got.ok) continue;
      // A wrong secret (the caller's commitment check fails) and a wrong list that never names the real
      // liars: blame only after the decoded secret verifies.
      expect(got.secret).toBe(f2[0]);
      expect(got.secret).not.toBe(f[0]);
      expect(got.wrong).toEqual(xs.slice(t + k).sort((p, q) => p - q));
      for (const x of got.wrong) expect(c.has(x)).toBe(false);
    }
  });

  it('m = t: no redundancy, decodes error-free shares, cannot see (or name) a wrong one', () => {
    const r = rng(3);
    for (let trial = 0; trial < 20; trial++) {
      const t = 1 + r.int(8);
      const f = Array.from({ length: t }, () => r.field());
      const xs = ids(r, t);
      const shares = share(f, xs);
      expect(decodeShares(shares, t)).toEqual({ ok: true, secret: f[0], wrong: [], correctable: 0 });
      const bad = corrupt(r, shares, new Set([xs[0]!]));
      const got = decodeShares(bad, t);
      expect(got).toMatchObject({ ok: true, wrong: [], correctable: 0 });
      if (got.ok) expect(got.secret).not.toBe(f[0]);
    }
  });

  it('m = t + 1: a wrong share is detected but cannot be located', () => {
    const r = rng(11);
    for (let trial = 0; trial < 20; trial++) {
      const t = 1 + r.int(8);
      const f = Array.from({ length: t }, () => r.field());
      const xs = ids(r, t + 1);
      expect(decodeShares(share(f, xs), t)).toMatchObject({ ok: true, secret: f[0], wrong: [] });
      expect(decodeShares(corrupt(r, share(f, xs), new Set([xs[r.int(t + 1)]!])), t)).toMatchObject({ ok: false, reason: 'too-many-errors' });
    }
  });

  it('agrees with Lagrange reconstruction (reconstructSecret) on error-free shares of 32-byte secrets', () => {
    const r = rng(5);
    for (let trial = 0; trial < 40; trial++) {
      const t = 1 + r.int(10);
      const m = t + r.int(10);
      const secret = globalThis.crypto.getRandomValues(new Uint8Array(32));
      const shares = [...splitSecret(secret, ids(r, m), t).values()];
      const got = decodeShares(shares, t);
      expect(got).toMatchObject({ ok: true, wrong: [] });
      if (!got.ok) continue;
      expect(got.secret).toBe(bytesToBigInt(secret));
      expect(got.secret).toBe(bytesToBigInt(reconstructSecret(r.pick(shares, t), t)));
    }
  });

  it('edge cases: all-zero shares, too few shares, malformed input', () => {
    expect(
      decodeShares(
        [1, 2, 3, 4, 5].map((x) => ({ x, y: 0n })),
        2,
      ),
    ).toEqual({ ok: true, secret: 0n, wrong: [], correctable: 1 });
    expect(decodeShares([{ x: 1, y: 5n }], 2)).toMatchObject({ ok: false, reason: 'too-few-shares' });
    expect(() =>
      decodeShares(
        [
          { x: 1, y: 1n },
          { x: 1, y: 2n },
        ],
        1,
      ),
    ).toThrow(/duplicate/);
    expect(() => decodeShares([{ x: 0, y: 1n }], 1)).toThrow(/client id/);
    expect(() => decodeShares([{ x: 2, y: FIELD_PRIME }], 1)).toThrow(/field element/);
    expect(() => decodeShares([{ x: 2, y: 1n }], 0)).toThrow(/threshold/);
  });

  it('stays fast at SecAgg+ neighbourhood sizes (m = 200, t = 100, 50 errors)', () => {
    const r = rng(42);
    const [m, t] = [200, 100];
    const f = Array.from({ length: t }, () => r.field());
    const xs = ids(r, m);
    const liars = new Set(r.pick(xs, 50));
    const start = performance.now();
    const got = decodeShares(corrupt(r, share(f, xs), liars), t);
    const ms = performance.now() - start;
    expect(got).toMatchObject({ ok: true, secret: f[0], wrong: [...liars].sort((a, b) => a - b) });
    expect(ms).toBeLessThan(5000);
  });
});
