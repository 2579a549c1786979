import { describe, expect, it } from 'vitest';
import { type ConfigError, accountingSampleRate, expectedClientsPerRound, parseRunConfig } from './config.ts';
import { planDdg, roundRdp } from './ddgPlan.ts';
import { accountDdg, calibrateDdg } from '@hushfl/ddp';

function issues(input: unknown): string[] {
  try {
    parseRunConfig(input);
  } catch (e) {
    return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

describe('run configuration', () => {
  it('fills every default', () => {
    const c = parseRunConfig({ rounds: 5, minClients: 8, ddg: { epsilon: 4 } });
    expect(c.task.model).toEqual({ kind: 'mlp', hidden: [64] });
    expect(c.selection).toEqual({ clientsPerRound: 10 });
    expect(c.deadlines.training).toBe(120);
    expect(c.ddg.bits).toBe(16);
    expect(c.ddg.beta).toBeCloseTo(Math.exp(-0.5), 12);
    expect(expectedClientsPerRound(c)).toBe(10);
    expect(accountingSampleRate(c)).toBe(1);
  });

  it('names each bad field', () => {
    expect(issues({ rounds: 0, minClients: 8, ddg: { epsilon: 4 } })).toEqual([expect.stringMatching(/^rounds: /)]);
    expect(issues({ rounds: 3, minClients: 8, ddg: { bits: 40, epsilon: 4 } })).toEqual([expect.stringMatching(/^ddg\.bits: /)]);
    expect(issues({ rounds: 3, minClients: 8, ddg: { gamma: 1 } })).toEqual(['ddg.localStddev: gamma and localStddev go together']);
    expect(issues({ rounds: 3, minClients: 8, ddg: {} })).toEqual([expect.stringMatching(/^ddg\.epsilon: give a target epsilon/)]);
    expect(issues({ rounds: 3, minClients: 12, ddg: { epsilon: 1 } })).toEqual(['minClients: must not exceed the expected clients per round (10)']);
    expect(issues({ rounds: 3, minClients: 2, ddg: { epsilon: 1 }, secagg: { neighbours: 4 } })).toEqual([
      'secagg.threshold: neighbours and threshold go together',
    ]);
    expect(issues({ rounds: 3, minClients: 2, ddg: { epsilon: 1 }, task: { model: { kind: 'rnn' } } })[0]).toMatch(/^task\.model\.kind: /);
    expect(issues({ rounds: 3, minClients: 2, ddg: { epsilon: 1 }, surprise: true })).toEqual([expect.stringMatching(/Unrecognized key: "surprise"/)]);
  });

  it('accepts Poisson selection and uses its rate for accounting', () => {
    const c = parseRunConfig({ rounds: 3, minClients: 5, selection: { sampleRate: 0.01, population: 1000 }, ddg: { epsilon: 4 } });
    expect(expectedClientsPerRound(c)).toBe(10);
    expect(accountingSampleRate(c)).toBe(0.01);
  });
});

describe('DDG plan of a run', () => {
  it('calibrates to n_min and the run’s rounds, and its per-round RDP composes to the target', () => {
    const c = parseRunConfig({ rounds: 6, minClients: 7, selection: { clientsPerRound: 10 }, ddg: { epsilon: 5, bits: 16 } });
    const plan = planDdg(c, 5000);
    const cal = calibrateDdg({ epsilon: 5, delta: 1e-5, clients: 10, minClients: 7, sampleRate: 1, rounds: 6, dim: 5000, clip: 1, bits: 16 });
    expect(plan.params.gamma).toBe(cal.gamma);
    expect(plan.params.localStddev).toBe(cal.localStddev);
    const direct = accountDdg({
      clip: 1,
      gamma: cal.gamma,
      beta: c.ddg.beta,
      dimPadded: 8192,
      clients: 7,
      localStddev: cal.localStddev,
      sampleRate: 1,
      rounds: 6,
      delta: 1e-5,
    });
    const perRound = roundRdp(plan, 7)!;
    for (let i = 0; i < perRound.length; i++) expect(perRound[i]! * 6).toBeCloseTo(direct.rdp[i]!, 10);
  });

  it('without noise: quantization only, no RDP', () => {
    const plan = planDdg(parseRunConfig({ rounds: 2, minClients: 2, ddg: { noise: false } }), 1000);
    expect(plan.params.localStddev).toBe(0);
    expect(plan.epsilonBudget).toBeNull();
    expect(roundRdp(plan, 10)).toBeNull();
  });
});
