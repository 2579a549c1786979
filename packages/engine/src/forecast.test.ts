import { describe, expect, it } from 'vitest';
import { planDdg } from './ddgPlan.ts';
import { forecastNoise, forecastUtility } from './forecast.ts';
import { engineTestConfig } from './testing.ts';

describe('the utility forecast (issue 16 §3)', () => {
  it('is the released mean’s noise, √(n·(σ² + γ²/4))/n per coordinate and √d of it in norm, against the clip', () => {
    const config = engineTestConfig({ rounds: 20, minClients: 10, selection: { clientsPerRound: 10 }, ddg: { bits: 16, clip: 1, epsilon: 8, delta: 1e-5 } });
    const d = 50_890; // an MLP with 64 hidden units on MNIST
    const plan = planDdg(config, d);
    const f = forecastUtility(config, plan, d);
    const { localStddev: s, gamma: g } = plan.params;
    const stddev = Math.sqrt(10 * (s * s + (g * g) / 4)) / 10;
    expect(f.noiseStddev).toBeCloseTo(stddev, 15);
    expect(f.noiseNorm).toBeCloseTo(stddev * Math.sqrt(d), 12);
    expect(f.noiseToClip).toBeCloseTo((stddev * Math.sqrt(d)) / 1, 12);
    // Ten parties at ε = 8 over 20 rounds: the noise drowns a 50k-weight model's signal (the newcomer's demo).
    expect(f.noiseToClip).toBeGreaterThan(Math.sqrt(20));
    expect(f.verdict).toBe('no-learning');
    expect(f.message).toBe(
      `with n_min = 10 and ε = 8 over 20 rounds the noise norm is ${f.noiseToClip.toFixed(0)}× the clip: expect no learning; raise n_min or ε, or use Poisson selection from a larger population`,
    );
  });

  it('says a round can stand out when the noise norm is below the clip, and slow learning up to √T times it', () => {
    const base = { parties: 100, divisor: 100, gamma: 0, dim: 10_000, clip: 1, minClients: 80, epsilon: 8, rounds: 100 };
    const at = (ratio: number) => forecastNoise({ ...base, localStddev: (ratio * 100) / (Math.sqrt(100) * Math.sqrt(10_000)) });
    expect(at(0.5).verdict).toBe('learns');
    expect(at(0.5).message).toBe("with n_min = 80 and ε = 8 over 100 rounds the noise norm is 0.50× the clip: each round's signal can stand out");
    expect(at(5).verdict).toBe('slow');
    expect(at(5).message).toContain('5.0× the clip: expect slow learning');
    expect(at(11).verdict).toBe('no-learning');
  });

  it('under Poisson selection divides by q·N, and sizes the noise by the expected parties', () => {
    const config = engineTestConfig({
      rounds: 30,
      minClients: 40,
      selection: { sampleRate: 0.1, population: 1000 },
      ddg: { bits: 18, clip: 0.5, epsilon: 4, delta: 1e-5 },
    });
    const plan = planDdg(config, 11_738);
    const f = forecastUtility(config, plan, 11_738);
    expect(f.parties).toBe(100);
    const { localStddev: s, gamma: g } = plan.params;
    expect(f.noiseStddev).toBeCloseTo(Math.sqrt(100 * (s * s + (g * g) / 4)) / 100, 15);
    expect(f.noiseToClip).toBeCloseTo((f.noiseStddev * Math.sqrt(11_738)) / 0.5, 12);
  });
});
