/**
 * Every expected value is recomputed here from the conditions with exact rational arithmetic (BigInt), never
 * taken from the implementation: (i) n·P[Bin(k, γ) >= 2t − k] <= 2^-40, (ii) n·(δ + γ)^(k/2) <= 2^-40,
 * (iii) P[Bin(k, 1 − δ) < t] <= 2^-20 (Bell et al. 2020, §4).
 */
import { describe, expect, it } from 'vitest';
import { SecAggError } from './errors.ts';
import { checkSecAggParamsMeet, chooseSecAggParams, log2BinomialTailAtLeast, validateSecAggParams } from './params.ts';

/** A rate as an exact fraction num/den. */
type Q = readonly [bigint, bigint];
const TENTH: Q = [1n, 10n];
const FIFTH: Q = [2n, 10n];

function choose(k: number, i: number): bigint {
  let c = 1n;
  for (let j = 1; j <= i; j++) c = (c * BigInt(k - i + j)) / BigInt(j);
  return c;
}

/** P[Bin(k, p) >= j] as an exact fraction (numerator, denominator p.den^k). */
function tail(k: number, [a, b]: Q, j: number): Q {
  let s = 0n;
  for (let i = Math.max(0, j); i <= k; i++) s += choose(k, i) * a ** BigInt(i) * (b - a) ** BigInt(k - i);
  return [s, b ** BigInt(k)];
}

/** m · x <= 2^-bits, exactly. */
function atMost(m: number, [num, den]: Q, bits: number): boolean {
  return BigInt(m) * num * 2n ** BigInt(bits) <= den;
}

function log2Big(x: bigint): number {
  if (x === 0n) return -Infinity;
  const s = x.toString(2);
  return s.length <= 53 ? Math.log2(Number(x)) : Math.log2(Number(BigInt(`0b${s.slice(0, 53)}`))) + (s.length - 53);
}
const log2Q = ([num, den]: Q) => log2Big(num) - log2Big(den);
const toNumber = (q: Q) => 2 ** log2Q(q);

const cond = {
  i: (n: number, k: number, t: number, gamma: Q) => atMost(n, tail(k, gamma, 2 * t - k), 40),
  ii: (n: number, k: number, bad: Q) => atMost(n, [bad[0] ** BigInt(k / 2), bad[1] ** BigInt(k / 2)], 40),
  iii: (k: number, t: number, delta: Q) => atMost(1, tail(k, delta, k - t + 1), 20),
};

/** The smallest t meeting (i) for k, by exact search. */
function exactThreshold(n: number, k: number, gamma: Q): number | null {
  for (let t = Math.floor(k / 2) + 1; t <= k; t++) if (cond.i(n, k, t, gamma)) return t;
  return null;
}

/** The old rule (before issue 12): P[Bin(k, γ) >= t] <= 2^-40/n, connectivity, correctness — exactly. */
function oldChoice(n: number): { k: number; t: number } {
  for (let k = 2; k < n - 1; k += 2) {
    if (!cond.ii(n, k, FIFTH)) continue;
    for (let t = k / 2 + 1; t <= k; t++) {
      if (!atMost(n, tail(k, TENTH, t), 40)) continue;
      if (!cond.iii(k, t, TENTH)) break;
      return { k, t };
    }
  }
  return { k: n - 1, t: Math.max(Math.floor((n - 1) / 2) + 1, Math.floor(0.1 * n) + 1) };
}

/** What a coordinator that equivocates gets for one client: c colluders give both shares, the k − c honest split. */
const bothSecretsRecoverable = (k: number, t: number, c: number) => c + Math.floor((k - c) / 2) >= t;

describe('binomial tails', () => {
  it('match exact rational summation', () => {
    for (const [k, p, t] of [
      [10, TENTH, 3],
      [44, TENTH, 26],
      [40, [3n, 10n] as Q, 25],
      [20, [1n, 2n] as Q, 20],
      [86, TENTH, 38],
      [1000, TENTH, 500],
      [1000, TENTH, 90], // below the mode: 1 − the opposite tail
      [1000, TENTH, 101],
      [99, [1n, 2n] as Q, 50],
      [3000, [45n, 100n] as Q, 1400],
    ] as const) {
      expect(log2BinomialTailAtLeast(k, Number(p[0]) / Number(p[1]), t)).toBeCloseTo(log2Q(tail(k, p, t)), 8);
    }
    expect(log2BinomialTailAtLeast(10, 0.1, 0)).toBe(0);
    expect(log2BinomialTailAtLeast(10, 0.1, 11)).toBe(-Infinity);
  });
});

describe('choosing k and t for a corruption rate (δ = γ = 0.1)', () => {
  for (const n of [100, 500, 1000, 5000]) {
    it(`n = ${n}: (i), (ii), (iii) hold exactly, t is the smallest (i) allows and no smaller even k works`, () => {
      const p = chooseSecAggParams(n, { dropoutRate: 0.1, corruptRate: 0.1 });
      const { neighbours: k, threshold: t } = p;
      expect(p).toMatchObject({ n, dropout: 0.1, corrupt: 0.1, guarantee: { kind: 'rate', corruptRate: 0.1, securityBits: 40 }, live: true });
      expect(p.complete).toBe(k === n - 1);
      expect(cond.i(n, k, t, TENTH)).toBe(true);
      if (!p.complete) expect(cond.ii(n, k, FIFTH)).toBe(true);
      expect(cond.iii(k, t, TENTH)).toBe(true);
      expect(t).toBe(exactThreshold(n, k, TENTH));
      for (let kk = 2; kk < k; kk += 2) {
        const tt = cond.ii(n, kk, FIFTH) ? exactThreshold(n, kk, TENTH) : null;
        expect(tt !== null && cond.iii(kk, tt, TENTH), `k = ${kk}`).toBe(false);
      }
      const exactAbort = tail(k, TENTH, k - t + 1);
      expect(p.clientAbortProbability).toBeCloseTo(toNumber(exactAbort), 12);
      expect(p.abortProbability).toBeCloseTo(Math.min(1, n * toNumber(exactAbort)), 10);
    });
  }

  it('n = 500: the old choice exposes a fraction of the clients per round, the new one meets (i)', () => {
    const old = oldChoice(500);
    const exposedPerClient = toNumber(tail(old.k, TENTH, 2 * old.t - old.k));
    expect(exposedPerClient).toBeGreaterThan(0.01); // a few percent of the clients, every round
    expect(() => checkSecAggParamsMeet(500, old.k, old.t, { dropoutRate: 0.1, corruptRate: 0.1 })).toThrow(SecAggError);
    const p = chooseSecAggParams(500);
    expect(cond.i(500, p.neighbours, p.threshold, TENTH)).toBe(true);
    expect(checkSecAggParamsMeet(500, p.neighbours, p.threshold)).toMatchObject({ neighbours: p.neighbours, threshold: p.threshold });
  });

  it('n = 20, complete graph: the old t = ⌊k/2⌋ + 1 falls to a single colluder; the new t meets (i)', () => {
    const old = oldChoice(20);
    expect(old).toEqual({ k: 19, t: 10 });
    expect(2 * old.t - old.k).toBe(1);
    expect(bothSecretsRecoverable(old.k, old.t, 1)).toBe(true);
    expect(() => checkSecAggParamsMeet(20, 19, 10)).toThrow(/n = 20.*δ = 0\.1.*γ = 0\.1/);
    const p = chooseSecAggParams(20);
    expect(p.complete).toBe(true);
    expect(p.threshold).toBe(exactThreshold(20, 19, TENTH));
  });

  it('(iii) unreachable: takes the t that (i) needs and reports the abort probability instead of refusing', () => {
    const p = chooseSecAggParams(20);
    expect(p.live).toBe(false);
    const exact = tail(p.neighbours, TENTH, p.neighbours - p.threshold + 1);
    expect(atMost(1, exact, 20)).toBe(false);
    expect(p.clientAbortProbability).toBeGreaterThan(2 ** -20);
    expect(p.clientAbortProbability).toBeCloseTo(toNumber(exact), 12);
    expect(p.abortProbability).toBe(Math.min(1, 20 * p.clientAbortProbability));
  });

  it('refuses when no k <= n − 1 meets (i), naming n, δ, γ and what would work', () => {
    let err: unknown;
    try {
      chooseSecAggParams(10, { dropoutRate: 0.1, corruptRate: 0.1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SecAggError);
    const msg = (err as SecAggError).message;
    expect((err as SecAggError).code).toBe('bad-parameters');
    expect(msg).toMatch(/n = 10/);
    expect(msg).toMatch(/δ = 0\.1/);
    expect(msg).toMatch(/γ = 0\.1/);
    // The γ it names works (just below it), and so do the n and the maxColluders it names.
    const gammaMax = Number(/γ <= ([\d.e-]+)/.exec(msg)![1]);
    const g = gammaMax;
    expect(10 * g ** 9).toBeLessThanOrEqual(2 ** -40);
    expect(chooseSecAggParams(10, { corruptRate: g }).complete).toBe(true);
    expect(() => chooseSecAggParams(10, { corruptRate: gammaMax * 1.01 })).toThrow(/n = 10/);
    const nMin = Number(/n >= (\d+)/.exec(msg)![1]);
    expect(atMost(nMin, [1n, 10n ** BigInt(nMin - 1)], 40)).toBe(true);
    expect(atMost(nMin - 1, [1n, 10n ** BigInt(nMin - 2)], 40)).toBe(false);
    expect(chooseSecAggParams(nMin).complete).toBe(true);
    const cMax = Number(/maxColluders <= (\d+)/.exec(msg)![1]);
    expect(chooseSecAggParams(10, { maxColluders: cMax }).guarantee).toEqual({ kind: 'colluders', maxColluders: cMax });
  });

  it('a higher dropout rate needs a larger k', () => {
    expect(chooseSecAggParams(500, { dropoutRate: 0.2 }).neighbours).toBeGreaterThan(chooseSecAggParams(500).neighbours);
  });
});

describe('choosing k and t for at most C colluders', () => {
  for (const [n, c] of [
    [3, 1],
    [5, 1],
    [10, 1],
    [20, 2],
    [50, 1],
    [500, 50],
  ] as const) {
    it(`n = ${n}, C = ${c}: C < 2t − k with the smallest such t; sparse only where n·(δ + C/n)^(k/2) <= 2^-40`, () => {
      const p = chooseSecAggParams(n, { dropoutRate: 0.1, maxColluders: c });
      const { neighbours: k, threshold: t } = p;
      expect(p.guarantee).toEqual({ kind: 'colluders', maxColluders: c });
      expect(p.corrupt).toBe(c / n);
      expect(c).toBeLessThan(2 * t - k);
      expect(c).toBeGreaterThanOrEqual(2 * (t - 1) - k);
      expect(bothSecretsRecoverable(k, t, c)).toBe(false);
      // δ + C/n = (n + 10C) / (10n)
      const bad: Q = [BigInt(n + 10 * c), BigInt(10 * n)];
      if (!p.complete) expect(cond.ii(n, k, bad)).toBe(true);
      for (let kk = Math.max(2, 2 * Math.ceil((c + 1) / 2)); kk < k && kk < n - 1; kk += 2) {
        const tt = Math.floor((kk + c) / 2) + 1;
        expect(cond.ii(n, kk, bad) && tt <= kk && cond.iii(kk, tt, TENTH), `k = ${kk}`).toBe(false);
      }
      expect(p.clientAbortProbability).toBeCloseTo(toNumber(tail(k, TENTH, k - t + 1)), 12);
      expect(p.live).toBe(cond.iii(k, t, TENTH));
    });
  }

  it('n = 20, k = 19: the old t = 10 falls to one colluder, the chosen t withstands the C given', () => {
    expect(() => checkSecAggParamsMeet(20, 19, 10, { maxColluders: 1 })).toThrow(/1 colluders >= 2t − k = 1/);
    const p = chooseSecAggParams(20, { maxColluders: 2 });
    expect(p.neighbours).toBe(19);
    expect(2).toBeLessThan(2 * p.threshold - 19);
    expect(checkSecAggParamsMeet(20, 19, p.threshold, { maxColluders: 2 }).guarantee).toEqual({ kind: 'colluders', maxColluders: 2 });
  });

  it('refuses C >= n − 1', () => {
    expect(() => chooseSecAggParams(5, { maxColluders: 4 })).toThrow(/n = 5.*at most 4 colluders.*maxColluders <= 3/);
  });
});

describe('checking given parameters', () => {
  it('refuses n = 1000, k = 2, t = 2 and n = 2, k = 1, t = 1 (issue 12)', () => {
    expect(() => checkSecAggParamsMeet(1000, 2, 2)).toThrow(/k = 2, t = 2 is too weak for n = 1000, δ = 0\.1, γ = 0\.1/);
    expect(() => checkSecAggParamsMeet(2, 1, 1)).toThrow(/at least 3 parties/);
  });

  it('accepts the chosen and stronger parameters, refuses a sparse k that can be cut apart', () => {
    const p = chooseSecAggParams(1000);
    expect(() => checkSecAggParamsMeet(1000, p.neighbours, p.threshold)).not.toThrow();
    expect(() => checkSecAggParamsMeet(1000, p.neighbours, p.threshold + 1)).not.toThrow();
    expect(() => checkSecAggParamsMeet(1000, p.neighbours, p.threshold - 1)).toThrow(/both secrets/);
    // k = 20, t = 20: (i) holds (1000·0.1^20), (ii) does not (1000·0.2^10 > 2^-40).
    expect(cond.i(1000, 20, 20, TENTH)).toBe(true);
    expect(cond.ii(1000, 20, FIFTH)).toBe(false);
    expect(() => checkSecAggParamsMeet(1000, 20, 20)).toThrow(/cut apart/);
  });
});

describe('structure', () => {
  it('refuses t <= k/2, t > k, odd sparse k and fewer than 3 parties', () => {
    expect(() => validateSecAggParams(100, 10, 5)).toThrow(/must exceed k\/2=5/);
    expect(() => validateSecAggParams(100, 10, 11)).toThrow(/\[1, k=10\]/);
    expect(() => validateSecAggParams(100, 11, 8)).toThrow(/even k/);
    expect(() => validateSecAggParams(2, 1, 1)).toThrow(/at least 3 parties/);
    expect(() => chooseSecAggParams(2, { maxColluders: 0 })).toThrow(/at least 3 parties/);
    expect(() => validateSecAggParams(10, 20, 5)).not.toThrow(); // k capped at n − 1 = 9
  });
});
