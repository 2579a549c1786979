import { describe, expect, it } from 'vitest';
import { inflatedL2Bound } from '../rounding.ts';
import { accountClipCount, accountDdg, clipCountRdp, ddgRoundRdp } from './ddg.ts';
import { accountDpsgd, sampledGaussianRdp } from './dpsgd.ts';
import { RdpLedger } from './ledger.ts';
import { RDP_ORDERS, rdpToEpsilon, subsampledRdp } from './rdp.ts';

describe('RDP orders and conversion', () => {
  it('evaluates exactly the integers 2..128 and 256', () => {
    expect(RDP_ORDERS.length).toBe(128);
    expect(RDP_ORDERS[0]).toBe(2);
    expect(RDP_ORDERS[126]).toBe(128);
    expect(RDP_ORDERS[127]).toBe(256);
  });

  it('converts with CKS Prop. 12 at the best order', () => {
    const rdp = RDP_ORDERS.map(() => Infinity);
    const i = RDP_ORDERS.indexOf(17);
    rdp[i] = 0.37;
    const delta = 1e-6;
    const { epsilon, order } = rdpToEpsilon(rdp, delta);
    expect(order).toBe(17);
    expect(epsilon).toBeCloseTo(0.37 + Math.log(1 - 1 / 17) - Math.log(delta * 17) / 16, 12);
  });
});

describe('DDG accountant (Kairouz et al. 2021, Prop. 14 / Eq. 17, Thm 1)', () => {
  it('reproduces the issue’s public check value (ε ≈ 4.9153 at order 5)', () => {
    const r = accountDdg({ clip: 1, gamma: 1e-3, beta: 0, dimPadded: 1024, clients: 10, localStddev: 1, sampleRate: 1, rounds: 10, delta: 1e-5 });
    expect(r.epsilon).toBeCloseTo(4.9153, 4);
    expect(r.order).toBe(5);
    expect(r.l2SensitivityGrid).toBe(1032);
  });

  /** The paper's formulas written out independently: per-order min of the three terms, times T, then Prop. 12. */
  function epsilonFromFormula(p: { c: number; g: number; beta: number; d: number; n: number; s: number; T: number; delta: number }) {
    const grid = p.s / p.g;
    let tau = 0;
    for (let k = 1; k <= p.n - 1; k++) tau += Math.exp(-2 * Math.PI ** 2 * grid ** 2 * (k / (k + 1)));
    tau *= 10;
    const a = p.c / p.g;
    let d2 = a + Math.sqrt(p.d);
    if (p.beta > 0) d2 = Math.min(d2, Math.sqrt(a * a + p.d / 4 + Math.sqrt(2 * Math.log(1 / p.beta)) * (a + Math.sqrt(p.d) / 2)));
    const d1 = d2 * Math.min(Math.sqrt(p.d), d2);
    const l2 = d2 / (Math.sqrt(p.n) * grid);
    const l1 = d1 / (Math.sqrt(p.n) * grid);
    let best = Infinity;
    for (const alpha of [...Array.from({ length: 127 }, (_, i) => i + 2), 256]) {
      const rdp =
        p.T *
        Math.min((alpha / 2) * l2 ** 2 + tau * p.d, (alpha / 2) * (l2 ** 2 + 2 * l1 * tau + tau ** 2 * p.d), (alpha / 2) * (l2 + Math.sqrt(p.d) * tau) ** 2);
      best = Math.min(best, rdp + Math.log((alpha - 1) / alpha) - (Math.log(p.delta) + Math.log(alpha)) / (alpha - 1));
    }
    return { epsilon: best, tau, d2 };
  }

  const cases = [
    { c: 1, g: 1e-3, beta: Math.exp(-0.5), d: 1 << 16, n: 100, s: 0.3, T: 50, delta: 1e-6 },
    { c: 0.1, g: 0.02, beta: 0, d: 256, n: 20, s: 0.01, T: 3, delta: 1e-5 }, // σ/γ = 0.5: τ matters
    { c: 3, g: 0.5, beta: 0.1, d: 4096, n: 7, s: 0.45, T: 1, delta: 1e-3 }, // coarse grid, τ·d′ dominant
  ];
  for (const p of cases) {
    it(`matches the formulas at c=${p.c}, γ=${p.g}, β=${p.beta.toFixed(3)}, d′=${p.d}, n=${p.n}, σ=${p.s}`, () => {
      const want = epsilonFromFormula(p);
      const got = accountDdg({
        clip: p.c,
        gamma: p.g,
        beta: p.beta,
        dimPadded: p.d,
        clients: p.n,
        localStddev: p.s,
        sampleRate: 1,
        rounds: p.T,
        delta: p.delta,
      });
      expect(got.epsilon).toBeCloseTo(want.epsilon, 9);
      expect(got.tau).toBeCloseTo(want.tau, 12);
      expect(got.l2SensitivityGrid).toBeCloseTo(want.d2, 9);
      expect(got.l2SensitivityGrid).toBe(inflatedL2Bound(p.c / p.g, p.beta, p.d));
    });
  }

  it('Poisson sampling never costs more than no sampling and helps at small q', () => {
    const base = { clip: 1, gamma: 1e-3, beta: 0, dimPadded: 4096, clients: 50, localStddev: 0.2, rounds: 200, delta: 1e-5 };
    const full = accountDdg({ ...base, sampleRate: 1 });
    const sampled = accountDdg({ ...base, sampleRate: 0.01 });
    for (let i = 0; i < RDP_ORDERS.length; i++) expect(sampled.rdp[i]).toBeLessThanOrEqual(full.rdp[i]! + 1e-12);
    expect(sampled.epsilon).toBeLessThan(full.epsilon / 2);
  });

  it('ε falls as σ grows and rises with rounds', () => {
    const base = { clip: 1, gamma: 1e-3, beta: 0, dimPadded: 1024, clients: 10, sampleRate: 1, delta: 1e-5 };
    const e = [0.5, 1, 2].map((s) => accountDdg({ ...base, localStddev: s, rounds: 10 }).epsilon);
    expect(e[0]).toBeGreaterThan(e[1]!);
    expect(e[1]).toBeGreaterThan(e[2]!);
    expect(accountDdg({ ...base, localStddev: 1, rounds: 20 }).epsilon).toBeGreaterThan(e[1]!);
  });

  it('refuses a dimension that is not a power of two, naming it', () => {
    expect(() => ddgRoundRdp({ clip: 1, gamma: 1e-3, beta: 0, dimPadded: 1000, clients: 10, localStddev: 1, sampleRate: 1 })).toThrow(
      /dim must be the padded dimension.*1024/,
    );
  });
});

describe('Zhu & Wang subsampling bound (ICML 2019, Thm 5)', () => {
  it('equals the bound summed directly (no log space) at moderate orders', () => {
    const rho = 0.8;
    const eps = (l: number) => (l * rho) / 2; // a Gaussian-like RDP curve
    const binom = (n: number, k: number) => {
      let r = 1;
      for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
      return r;
    };
    for (const q of [0.001, 0.05, 0.3]) {
      for (const alpha of [2, 3, 5, 12, 30]) {
        let s = (1 - q) ** (alpha - 1) * (alpha * q - q + 1) + binom(alpha, 2) * q ** 2 * (1 - q) ** (alpha - 2) * Math.exp(eps(2));
        for (let l = 3; l <= alpha; l++) s += 3 * binom(alpha, l) * (1 - q) ** (alpha - l) * q ** l * Math.exp((l - 1) * eps(l));
        expect(subsampledRdp(alpha, q, eps)).toBeCloseTo(Math.log(s) / (alpha - 1), 10);
      }
    }
  });
});

describe('DP-SGD accountant (Mironov, Talwar & Zhang 2019)', () => {
  /** A_α = E_{x∼N(0,z²)}[(1 − q + q·e^((2x−1)/(2z²)))^α] by Simpson's rule: the definition, not the binomial sum. */
  function integratedRdp(q: number, z: number, alpha: number): number {
    const lo = -30 * z - 10;
    const hi = 30 * z + 10;
    const steps = 200_000;
    const h = (hi - lo) / steps;
    let s = 0;
    for (let i = 0; i <= steps; i++) {
      const x = lo + i * h;
      const f = (Math.exp((-x * x) / (2 * z * z)) / (z * Math.sqrt(2 * Math.PI))) * (1 - q + q * Math.exp((2 * x - 1) / (2 * z * z))) ** alpha;
      s += f * (i === 0 || i === steps ? 1 : i % 2 ? 4 : 2);
    }
    return Math.log((s * h) / 3) / (alpha - 1);
  }

  for (const [q, z, alpha] of [
    [0.01, 1.1, 2],
    [0.01, 1.1, 8],
    [0.1, 2, 3],
    [0.3, 4, 16],
    [0.004, 0.8, 5],
  ] as const) {
    it(`matches numerical integration at q=${q}, z=${z}, α=${alpha}`, () => {
      expect(sampledGaussianRdp(q, z, alpha)).toBeCloseTo(integratedRdp(q, z, alpha), 8);
    });
  }

  it('has the closed form log(1 + q²(e^(1/z²) − 1)) at α = 2 and α/(2z²) at q = 1', () => {
    expect(sampledGaussianRdp(0.05, 1.3, 2)).toBeCloseTo(Math.log(1 + 0.05 ** 2 * (Math.exp(1 / 1.3 ** 2) - 1)), 12);
    expect(sampledGaussianRdp(1, 1.3, 7)).toBeCloseTo(7 / (2 * 1.3 ** 2), 12);
  });

  it('composes steps additively', () => {
    const one = accountDpsgd({ sampleRate: 0.02, noiseMultiplier: 1, steps: 1, delta: 1e-5 });
    const many = accountDpsgd({ sampleRate: 0.02, noiseMultiplier: 1, steps: 500, delta: 1e-5 });
    for (let i = 0; i < RDP_ORDERS.length; i++) expect(many.rdp[i]).toBeCloseTo(one.rdp[i]! * 500, 9);
    expect(many.epsilon).toBe(rdpToEpsilon(many.rdp, 1e-5).epsilon);
  });
});

describe('RdpLedger', () => {
  it('adds rounds of different parameters and reports ε at any δ', () => {
    const base = { clip: 1, gamma: 1e-3, beta: 0, dimPadded: 1024, localStddev: 1, sampleRate: 1 };
    const a = ddgRoundRdp({ ...base, clients: 10 }).rdp;
    const b = ddgRoundRdp({ ...base, clients: 7 }).rdp;
    const ledger = new RdpLedger();
    ledger.add(a);
    expect(ledger.spentIfAdded(b, 1e-5)).toEqual(
      rdpToEpsilon(
        Array.from(a, (v, i) => v + b[i]!),
        1e-5,
      ),
    );
    ledger.add(b);
    expect(ledger.rounds).toBe(2);
    expect(ledger.spent(1e-5)).toEqual(
      rdpToEpsilon(
        Array.from(a, (v, i) => v + b[i]!),
        1e-5,
      ),
    );
    const restored = new RdpLedger(ledger.rdp(), ledger.rounds);
    expect(restored.spent(1e-6)).toEqual(ledger.spent(1e-6));
  });
});

describe('DDG accountant with the adaptive-clipping count (Andrew et al. 2021 §3; KLS 2021 Thm 1 at d′ = 1)', () => {
  /** The model's unsampled RDP at order α, written out from Thm 1 / Prop. 14. */
  function modelEps(p: { c: number; g: number; d: number; n: number; s: number }) {
    const grid = p.s / p.g;
    let tau = 0;
    for (let k = 1; k <= p.n - 1; k++) tau += Math.exp(-2 * Math.PI ** 2 * grid ** 2 * (k / (k + 1)));
    tau *= 10;
    const d2 = p.c / p.g + Math.sqrt(p.d); // β = 0
    const d1 = d2 * Math.min(Math.sqrt(p.d), d2);
    const l2 = d2 / (Math.sqrt(p.n) * grid);
    const l1 = d1 / (Math.sqrt(p.n) * grid);
    return (alpha: number) =>
      Math.min((alpha / 2) * l2 ** 2 + tau * p.d, (alpha / 2) * (l2 ** 2 + 2 * l1 * tau + tau ** 2 * p.d), (alpha / 2) * (l2 + Math.sqrt(p.d) * tau) ** 2);
  }
  /** The count's unsampled RDP: d′ = 1, Δ₂ = Δ₁ = h, grid stddev s, n parties. */
  function countEps(s: number, n: number, h = 1) {
    let tau = 0;
    for (let k = 1; k <= n - 1; k++) tau += Math.exp(-2 * Math.PI ** 2 * s ** 2 * (k / (k + 1)));
    tau *= 10;
    const l = h / (Math.sqrt(n) * s);
    return (alpha: number) => Math.min((alpha / 2) * l ** 2 + tau, (alpha / 2) * (l ** 2 + 2 * l * tau + tau ** 2), (alpha / 2) * (l + tau) ** 2);
  }
  const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want)));

  const p = { c: 1, g: 1e-3, d: 1024, n: 10, s: 1 };
  const base = { clip: p.c, gamma: p.g, beta: 0, dimPadded: p.d, clients: p.n, localStddev: p.s };

  it('a count scaled by h has sensitivity h: l = h/(√n·g), and τ of its grid stddev g', () => {
    for (const [g, h] of [
      [2.1, 7],
      [3, 2],
    ] as const) {
      const r = ddgRoundRdp({ ...base, sampleRate: 1, countStddev: g, countScale: h });
      const b = countEps(g, p.n, h);
      RDP_ORDERS.forEach((alpha, i) => {
        close(r.unsampledCountRdp![i]!, b(alpha));
        close(clipCountRdp(alpha, g, p.n, h), b(alpha));
      });
    }
    expect(() => clipCountRdp(2, 2, 10, 0)).toThrow(/countScale/);
    expect(() => clipCountRdp(2, 2, 10, 1.5)).toThrow(/countScale/);
  });

  for (const countStddev of [0.5, 0.7, 1, 3]) {
    it(`at q = 1 each order's RDP is model + count (countStddev = ${countStddev})`, () => {
      const r = ddgRoundRdp({ ...base, sampleRate: 1, countStddev });
      const m = modelEps(p);
      const b = countEps(countStddev, p.n);
      RDP_ORDERS.forEach((alpha, i) => {
        close(r.rdp[i]!, m(alpha) + b(alpha));
        close(r.unsampledModelRdp[i]!, m(alpha));
        close(r.unsampledCountRdp![i]!, b(alpha));
        close(clipCountRdp(alpha, countStddev, p.n), b(alpha));
      });
      let tau = 0;
      for (let k = 1; k < p.n; k++) tau += 10 * Math.exp(-2 * Math.PI ** 2 * countStddev ** 2 * (k / (k + 1)));
      close(r.countTau!, tau);
      expect(r.rdp[0]).toBeGreaterThan(ddgRoundRdp({ ...base, sampleRate: 1 }).rdp[0]!);
    });
  }

  it('at q < 1 subsamples the composed pair, not each part', () => {
    const q = 0.1;
    const countStddev = 1;
    const m = modelEps(p);
    const b = countEps(countStddev, p.n);
    const sum = (alpha: number) => m(alpha) + b(alpha);
    const r = ddgRoundRdp({ ...base, sampleRate: q, countStddev });
    let maxGap = 0;
    RDP_ORDERS.forEach((alpha, i) => {
      close(r.rdp[i]!, Math.min(subsampledRdp(alpha, q, sum), sum(alpha)));
      const separately = Math.min(subsampledRdp(alpha, q, m), m(alpha)) + Math.min(subsampledRdp(alpha, q, b), b(alpha));
      maxGap = Math.max(maxGap, Math.abs(r.rdp[i]! - separately) / separately);
    });
    expect(maxGap).toBeGreaterThan(1e-3);
    // The unsampled parts stay unsampled.
    RDP_ORDERS.forEach((alpha, i) => {
      close(r.unsampledCountRdp![i]!, b(alpha));
    });
  });

  it('accountDdg composes the pair over rounds; accountClipCount is the count alone', () => {
    const q = 0.2;
    const rounds = 30;
    const delta = 1e-5;
    const sum = (alpha: number) => modelEps(p)(alpha) + countEps(2, p.n)(alpha);
    const total = RDP_ORDERS.map((alpha) => rounds * Math.min(subsampledRdp(alpha, q, sum), sum(alpha)));
    const got = accountDdg({ ...base, sampleRate: q, rounds, delta, countStddev: 2 });
    expect(got.epsilon).toBeCloseTo(rdpToEpsilon(total, delta).epsilon, 9);
    const b = countEps(2, p.n);
    const alone = RDP_ORDERS.map((alpha) => rounds * Math.min(subsampledRdp(alpha, q, b), b(alpha)));
    const count = accountClipCount({ countStddev: 2, clients: p.n, sampleRate: q, rounds, delta });
    expect(count.epsilon).toBeCloseTo(rdpToEpsilon(alone, delta).epsilon, 9);
    expect(count.epsilon).toBeLessThan(got.epsilon);
    expect(accountDdg({ ...base, sampleRate: q, rounds, delta }).epsilon).toBeLessThan(got.epsilon);
  });

  it('without countStddev the result is unchanged', () => {
    for (const q of [1, 0.05]) {
      const plain = ddgRoundRdp({ ...base, sampleRate: q });
      const undef = ddgRoundRdp({ ...base, sampleRate: q, countStddev: undefined });
      expect(undef.rdp).toEqual(plain.rdp);
      expect(plain.unsampledCountRdp).toBeNull();
      expect(plain.countTau).toBeNull();
      const m = modelEps(p);
      RDP_ORDERS.forEach((alpha, i) => {
        close(plain.unsampledModelRdp[i]!, m(alpha));
        if (q === 1) close(plain.rdp[i]!, m(alpha));
        else close(plain.rdp[i]!, Math.min(subsampledRdp(alpha, q, m), m(alpha)));
      });
    }
  });

  it('refuses countStddev below 1/2, naming it', () => {
    for (const bad of [0.49, 0, -1, Number.NaN, Infinity]) {
      expect(() => ddgRoundRdp({ ...base, sampleRate: 1, countStddev: bad })).toThrow(/countStddev/);
      expect(() => clipCountRdp(2, bad, 10)).toThrow(/countStddev/);
    }
    expect(() => ddgRoundRdp({ ...base, sampleRate: 1, countStddev: 0.49 })).toThrow(/countStddev = 0\.49 .*at least 1\/2/);
  });
});
