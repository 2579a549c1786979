import { describe, expect, it } from 'vitest';
import { parseRunConfig } from '@hushfl/protocol';
import { accountingSampleRate, planDdg, roundRdp } from './ddgPlan.ts';
import { expectedClientsPerRound } from './selection.ts';
import { accountDdg, calibrateDdg } from '@hushfl/ddp';

describe('what a run config implies', () => {
  it('fixed-size selection: n per round, accounted without sampling amplification', () => {
    const c = parseRunConfig({ secagg: { maxColluders: 1 }, rounds: 5, minClients: 8, ddg: { epsilon: 4 } });
    expect(expectedClientsPerRound(c)).toBe(10);
    expect(accountingSampleRate(c)).toBe(1);
  });

  it('Poisson selection: q·N expected per round, accounted at q', () => {
    const c = parseRunConfig({ secagg: { maxColluders: 1 }, rounds: 3, minClients: 5, selection: { sampleRate: 0.01, population: 1000 }, ddg: { epsilon: 4 } });
    expect(expectedClientsPerRound(c)).toBe(10);
    expect(accountingSampleRate(c)).toBe(0.01);
  });
});

describe('DDG plan of a run', () => {
  it('calibrates to n_min and the run’s rounds, and its per-round RDP composes to the target', () => {
    const c = parseRunConfig({ secagg: { maxColluders: 1 }, rounds: 6, minClients: 7, selection: { clientsPerRound: 10 }, ddg: { epsilon: 5, bits: 16 } });
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
    const plan = planDdg(parseRunConfig({ secagg: { maxColluders: 1 }, rounds: 2, minClients: 2, ddg: { noise: false } }), 1000);
    expect(plan.params.localStddev).toBe(0);
    expect(plan.epsilonBudget).toBeNull();
    expect(roundRdp(plan, 10)).toBeNull();
  });
});
