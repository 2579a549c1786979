import { describe, expect, it } from 'vitest';
import { accountClipCount, accountDdg } from './accountant/ddg.ts';
import { CLIP_COUNT_MAX_SHARE, calibrateDdg, defaultClipCountNoise, quantizationGamma } from './calibrate.ts';
import { checkClipCountRange, clipCountGrid } from './clipCount.ts';
import { DdpParameterError } from './errors.ts';

describe('calibrateDdg', () => {
  const input = { epsilon: 5, delta: 1e-5, clients: 20, minClients: 16, sampleRate: 0.05, rounds: 50, dim: 10_000, clip: 1, bits: 16 };

  it('meets the target ε at n_min with the smallest such σ', () => {
    const cal = calibrateDdg(input);
    expect(cal.dimPadded).toBe(16384);
    const at = (s: number, clients = 16) =>
      accountDdg({ clip: 1, gamma: cal.gamma, beta: cal.beta, dimPadded: 16384, clients, localStddev: s, sampleRate: 0.05, rounds: 50, delta: 1e-5 }).epsilon;
    expect(at(cal.localStddev)).toBeLessThanOrEqual(5);
    expect(cal.epsilon).toBe(at(cal.localStddev));
    expect(at(cal.localStddev * (1 - 1e-6))).toBeGreaterThan(5 - 1e-3);
    // Calibrating to n_min protects rounds that complete with fewer than the expected clients.
    expect(at(cal.localStddev, 20)).toBeLessThan(at(cal.localStddev, 16));
  });

  it('chooses the finest γ whose aggregate keeps k standard deviations inside 2^B', () => {
    const cal = calibrateDdg(input);
    const n = 20;
    const spread = (g: number, s: number) => Math.sqrt((n * n) / 16384 + ((g * g) / 4 + s * s) * n) / g;
    expect(2 * cal.kStddevs * spread(cal.gamma, cal.localStddev)).toBeLessThanOrEqual(2 ** 16 * (1 + 1e-12));
    expect(cal.headroomStddevs).toBeCloseTo(4, 6);
  });

  it('needs more noise when fewer clients may contribute', () => {
    const all = calibrateDdg({ ...input, minClients: 20 });
    const few = calibrateDdg({ ...input, minClients: 5 });
    expect(few.localStddev / few.gamma).toBeGreaterThan(all.localStddev / all.gamma);
  });

  it('uses more bits for a finer grid', () => {
    const b12 = calibrateDdg({ ...input, bits: 12 });
    const b20 = calibrateDdg({ ...input, bits: 20 });
    expect(b20.gamma).toBeLessThan(b12.gamma / 8);
  });

  it('refuses a bit width that cannot hold the clients, saying how many bits are needed', () => {
    try {
      calibrateDdg({ ...input, clients: 1000, minClients: 1000, bits: 4 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DdpParameterError);
      expect((e as DdpParameterError).param).toBe('bits');
      expect((e as Error).message).toMatch(/bits=4 cannot hold 1000 clients with k=4 .*need bits >= \d+/);
    }
  });

  it('never puts σ below γ/2, the precondition of the DDG bound: the accountant refuses it, calibration gives σ = γ/2', () => {
    // A target so loose that the smallest σ meeting it would be below half a grid step.
    const loose = { ...input, epsilon: 5000, clients: 100, minClients: 100, sampleRate: 1, rounds: 1, dim: 64, bits: 10 };
    const cal = calibrateDdg(loose);
    expect(cal.gridStddev).toBeGreaterThanOrEqual(0.5);
    expect(cal.localStddev).toBe(cal.gamma / 2);
    expect(cal.epsilon).toBeLessThanOrEqual(5000);
    const at = (s: number) =>
      accountDdg({ clip: 1, gamma: cal.gamma, beta: cal.beta, dimPadded: 64, clients: 100, localStddev: s, sampleRate: 1, rounds: 1, delta: 1e-5 }).epsilon;
    expect(cal.epsilon).toBe(at(cal.localStddev));
    // The accountant itself refuses a grid stddev below 1/2, naming the precondition.
    expect(() => at((cal.gamma / 2) * (1 - 1e-9))).toThrow(/localStddev\/gamma = .* is below 1\/2.*half a grid step/);
    // Headroom still holds at the raised σ.
    const n = 100;
    const spread = Math.sqrt((n * n) / 64 + ((cal.gamma * cal.gamma) / 4 + cal.localStddev ** 2) * n) / cal.gamma;
    expect(2 * cal.kStddevs * spread).toBeLessThanOrEqual(2 ** 10 * (1 + 1e-12));
  });

  it('refuses bad inputs naming the field', () => {
    expect(() => calibrateDdg({ ...input, minClients: 30 })).toThrow(/minClients/);
    expect(() => calibrateDdg({ ...input, delta: 0 })).toThrow(/delta/);
    expect(() => calibrateDdg({ ...input, epsilon: -1 })).toThrow(/epsilon/);
    expect(() => calibrateDdg({ ...input, epsilon: 1e-4 })).toThrow(/not reachable/);
  });
});

describe('quantizationGamma (no noise)', () => {
  it('is the finest γ whose noiseless aggregate keeps k standard deviations inside 2^B', () => {
    const g = quantizationGamma({ clip: 1, clients: 20, dim: 5000, bits: 12 });
    const spread = (gamma: number) => (2 * 4 * Math.sqrt((20 * 20) / 8192 + (20 * gamma * gamma) / 4)) / gamma;
    expect(spread(g)).toBeCloseTo(2 ** 12, 6);
    expect(spread(g * 0.99)).toBeGreaterThan(2 ** 12);
  });

  it('refuses a ring too small for the clients', () => {
    expect(() => quantizationGamma({ clip: 1, clients: 100, dim: 10, bits: 5 })).toThrow(/bits=5 cannot hold 100 clients with k=4: need bits >= \d+/);
  });
});

describe('calibrateDdg with the adaptive-clipping count (Andrew et al. 2021, §3 budget split)', () => {
  const input = { epsilon: 5, delta: 1e-5, clients: 20, minClients: 16, sampleRate: 0.05, rounds: 50, dim: 10_000, clip: 1, bits: 16 };
  const countStddev = 1;
  const at = (cal: { gamma: number; beta: number; localStddev: number }, count?: number) =>
    accountDdg({
      clip: 1,
      gamma: cal.gamma,
      beta: cal.beta,
      dimPadded: 16384,
      clients: 16,
      localStddev: cal.localStddev,
      sampleRate: 0.05,
      rounds: 50,
      delta: 1e-5,
      countStddev: count,
    }).epsilon;

  it('raises the model noise to pay for the count and still meets the target, close to it', () => {
    const without = calibrateDdg(input);
    const cal = calibrateDdg({ ...input, countStddev });
    expect(cal.countStddev).toBe(countStddev);
    expect(cal.localStddev).toBeGreaterThan(without.localStddev);
    expect(cal.gridStddev).toBeGreaterThan(without.gridStddev);
    expect(cal.epsilon).toBe(at(cal, countStddev));
    expect(cal.epsilon).toBeLessThanOrEqual(5);
    expect(at({ ...cal, localStddev: cal.localStddev * (1 - 1e-6) }, countStddev)).toBeGreaterThan(5 - 1e-3);
    // The calibration without the count would overspend once the count is released.
    expect(at(without, countStddev)).toBeGreaterThan(5);
  });

  it('reports the split: model and count ε alone, each below the total, and the σ without the count', () => {
    const cal = calibrateDdg({ ...input, countStddev });
    expect(cal.modelEpsilon).toBe(at(cal));
    expect(cal.countEpsilon).toBe(accountClipCount({ countStddev, clients: 16, sampleRate: 0.05, rounds: 50, delta: 1e-5 }).epsilon);
    expect(cal.modelEpsilon).toBeLessThan(cal.epsilon);
    expect(cal.countEpsilon!).toBeLessThan(cal.epsilon);
    expect(cal.countEpsilon!).toBeGreaterThan(0);
    expect(cal.localStddevWithoutCount).toBe(calibrateDdg(input).localStddev);
  });

  it('without a count reports nulls and the model alone', () => {
    const cal = calibrateDdg(input);
    expect(cal.countStddev).toBeNull();
    expect(cal.countEpsilon).toBeNull();
    expect(cal.modelEpsilon).toBe(cal.epsilon);
    expect(cal.localStddevWithoutCount).toBe(cal.localStddev);
  });

  it('a noisier count costs less model noise', () => {
    const tight = calibrateDdg({ ...input, countStddev: 0.7 });
    const loose = calibrateDdg({ ...input, countStddev: 4 });
    expect(tight.localStddev).toBeGreaterThan(loose.localStddev);
    expect(tight.countEpsilon!).toBeGreaterThan(loose.countEpsilon!);
  });

  it('refuses a count that alone spends the target, and countStddev below 1/2, naming countStddev', () => {
    const heavy = { ...input, sampleRate: 1, countStddev: 0.5 };
    const alone = accountClipCount({ countStddev: 0.5, clients: 16, sampleRate: 1, rounds: 50, delta: 1e-5 }).epsilon;
    expect(alone).toBeGreaterThan(5);
    try {
      calibrateDdg(heavy);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DdpParameterError);
      expect((e as DdpParameterError).param).toBe('countStddev');
      expect((e as Error).message).toMatch(/count alone/);
    }
    expect(() => calibrateDdg({ ...input, countStddev: 0.4 })).toThrow(/countStddev/);
  });

  it('refuses a bit width too small for the count sum n + k·√n·s, saying how many bits', () => {
    const n = 1000;
    const s = 2;
    const need = n + 4 * Math.sqrt(n) * s; // must be below 2^(B−1)
    const bits = Math.floor(Math.log2(need)); // 2^(bits−1) <= need/2 < need
    expect(2 ** (bits - 1)).toBeLessThanOrEqual(need);
    try {
      calibrateDdg({ epsilon: 50, delta: 1e-5, clients: n, minClients: n, sampleRate: 1, rounds: 1, dim: 1 << 16, clip: 1, bits, countStddev: s });
      expect.unreachable();
    } catch (e) {
      expect((e as DdpParameterError).param).toBe('bits');
      expect((e as Error).message).toMatch(new RegExp(`clipped count .*need bits >= ${Math.floor(Math.log2(need)) + 2}`));
    }
  });
});

describe('defaultClipCountNoise (Andrew et al. 2021, §3: σ_b = m/20)', () => {
  const spent = (s: number, i: { minClients: number; sampleRate: number; rounds: number; delta: number }) =>
    accountClipCount({ ...clipCountGrid(s), clients: i.minClients, sampleRate: i.sampleRate, rounds: i.rounds, delta: i.delta }).epsilon;

  it('is the paper’s m/(10·√n_min) in sign units, so that b̄ carries noise m/20/m = 0.05', () => {
    const i = { epsilon: 8, delta: 1e-5, clients: 400, minClients: 300, sampleRate: 0.1, rounds: 20 };
    const s = defaultClipCountNoise(i);
    expect(s).toBeCloseTo(400 / (10 * Math.sqrt(300)), 12);
    expect((Math.sqrt(300) * s) / 2 / 400).toBeCloseTo(0.05, 12);
    expect(spent(s, i)).toBeLessThanOrEqual(CLIP_COUNT_MAX_SHARE * 8);
  });

  it('refuses a round too small for a useful noisy count: at m/20 the count alone would spend over half the target', () => {
    const i = { epsilon: 20, delta: 1e-5, clients: 4, minClients: 4, sampleRate: 1, rounds: 3 };
    expect(spent(4 / (10 * Math.sqrt(4)), i)).toBeGreaterThan(CLIP_COUNT_MAX_SHARE * 20);
    expect(() => defaultClipCountNoise(i)).toThrow(
      /adaptive clipping's count at σ_b = m\/20 = 0\.2 \(Andrew et al\.\) would alone spend ε = [0-9.]+ of the target 20 over 3 rounds: too few clients per round \(4\)/,
    );
  });

  it('refuses a count whose sum would wrap, and a grid scale past 2^20', () => {
    expect(() => checkClipCountRange({ countScale: 317, countStddev: 2, clients: 200, bits: 16, kStddevs: 4 })).toThrow(
      /bits=16 cannot hold the clipped count of 200 clients/,
    );
    expect(() => checkClipCountRange({ countScale: 3, countStddev: 2, clients: 200, bits: 16, kStddevs: 4 })).not.toThrow();
    expect(() => clipCountGrid(1e-7)).toThrow(/too small/);
  });
});
