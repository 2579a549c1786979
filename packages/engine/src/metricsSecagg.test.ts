/** Issue 12: the run's SecAgg guarantee is in the metrics JSON — rate γ at 2^-40 or at most C colluders, never a silent γ = 0. */
import { parseRunConfig } from '@hushfl/protocol';
import { chooseSecAggParams } from '@hushfl/secagg';
import { describe, expect, it } from 'vitest';
import { planDdg } from './ddgPlan.ts';
import { metricsDocument } from './metrics.ts';

function metrics(input: Parameters<typeof parseRunConfig>[0]) {
  return metricsOf(parseRunConfig(input));
}

function metricsOf(config: ReturnType<typeof parseRunConfig>) {
  const json = JSON.parse(JSON.stringify(metricsDocument({ id: 'run-m', name: 'm', createdAt: 0, dim: 10 }, 'running', config, planDdg(config, 10), 0, [])));
  return json.secagg;
}

describe('metrics: secagg', () => {
  it('a rate guarantee: γ, 2^-40 and the chosen k, t and abort probability', () => {
    const s = metrics({ rounds: 2, minClients: 100, selection: { clientsPerRound: 500 }, ddg: { noise: false } });
    const p = chooseSecAggParams(500, { dropoutRate: 0.1, corruptRate: 0.1 });
    expect(s).toEqual({
      n: 500,
      guarantee: { kind: 'rate', corruptRate: 0.1, securityBits: 40 },
      dropout: 0.1,
      k: p.neighbours,
      t: p.threshold,
      complete: false,
      abortProbability: p.abortProbability,
      live: true,
    });
  });

  it('an absolute bound: at most C colluders', () => {
    const s = metrics({ rounds: 2, minClients: 5, selection: { clientsPerRound: 10 }, ddg: { noise: false }, secagg: { maxColluders: 2 } });
    const p = chooseSecAggParams(10, { dropoutRate: 0.1, maxColluders: 2 });
    expect(s).toMatchObject({
      n: 10,
      guarantee: { kind: 'colluders', maxColluders: 2 },
      k: p.neighbours,
      t: p.threshold,
      abortProbability: p.abortProbability,
    });
  });

  it('no parameters for the expected n (a config stored before the config refused it): the guarantee asked for and why it cannot be met', () => {
    const ok = parseRunConfig({ rounds: 2, minClients: 5, selection: { clientsPerRound: 10 }, ddg: { noise: false }, secagg: { maxColluders: 1 } });
    const s = metricsOf({ ...ok, secagg: { dropoutRate: 0.1, corruptRate: 0.1 } });
    expect(s.guarantee).toEqual({ kind: 'rate', corruptRate: 0.1, securityBits: 40 });
    expect(s.error).toMatch(/no SecAgg\+ parameters for n = 10/);
  });
});
