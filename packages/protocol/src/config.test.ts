import { describe, expect, it } from 'vitest';
import { type ConfigError, parseRunConfig } from './config.ts';

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
    const c = parseRunConfig({ secagg: { maxColluders: 1 }, rounds: 5, minClients: 8, ddg: { epsilon: 4 } });
    expect(c.task.model).toEqual({ kind: 'mlp', hidden: [64] });
    expect(c.selection).toEqual({ clientsPerRound: 10 });
    expect(c.deadlines.training).toBe(120);
    expect(c.ddg.bits).toBe(16);
    expect(c.ddg.beta).toBeCloseTo(Math.exp(-0.5), 12);
  });

  it('names each bad field', () => {
    expect(issues({ secagg: { maxColluders: 1 }, rounds: 0, minClients: 8, ddg: { epsilon: 4 } })).toEqual([expect.stringMatching(/^rounds: /)]);
    expect(issues({ secagg: { maxColluders: 1 }, rounds: 3, minClients: 8, ddg: { bits: 40, epsilon: 4 } })).toEqual([expect.stringMatching(/^ddg\.bits: /)]);
    expect(issues({ secagg: { maxColluders: 1 }, rounds: 3, minClients: 8, ddg: { gamma: 1 } })).toEqual([
      'ddg.localStddev: gamma and localStddev go together',
    ]);
    expect(issues({ secagg: { maxColluders: 1 }, rounds: 3, minClients: 8, ddg: {} })).toEqual([expect.stringMatching(/^ddg\.epsilon: give a target epsilon/)]);
    expect(issues({ secagg: { maxColluders: 1 }, rounds: 3, minClients: 12, ddg: { epsilon: 1 } })).toEqual([
      'minClients: must not exceed the expected clients per round (10)',
    ]);
    expect(issues({ rounds: 3, minClients: 2, ddg: { epsilon: 1 }, secagg: { neighbours: 4, maxColluders: 1 } })).toEqual([
      'secagg.threshold: neighbours and threshold go together',
    ]);
    expect(issues({ secagg: { maxColluders: 1 }, rounds: 3, minClients: 2, ddg: { epsilon: 1 }, task: { model: { kind: 'rnn' } } })[0]).toMatch(
      /^task\.model\.kind: /,
    );
    expect(issues({ secagg: { maxColluders: 1 }, rounds: 3, minClients: 2, ddg: { epsilon: 1 }, surprise: true })).toEqual([
      expect.stringMatching(/Unrecognized key: "surprise"/),
    ]);
  });

  it('refuses explicit DDG noise below half a grid step per client (σ/γ < 1/2, outside the DDG bound)', () => {
    const gamma = 0.01;
    expect(issues({ secagg: { maxColluders: 1 }, rounds: 3, minClients: 8, ddg: { gamma, localStddev: gamma / 2 } })).toEqual([]);
    expect(issues({ secagg: { maxColluders: 1 }, rounds: 3, minClients: 8, ddg: { gamma, localStddev: (gamma / 2) * (1 - 1e-9) } })).toEqual([
      expect.stringMatching(/^ddg\.localStddev: must be at least gamma\/2 = 0\.005 .*half a grid step/),
    ]);
  });

  it('accepts Poisson selection', () => {
    const c = parseRunConfig({ secagg: { maxColluders: 1 }, rounds: 3, minClients: 5, selection: { sampleRate: 0.01, population: 1000 }, ddg: { epsilon: 4 } });
    expect(c.selection).toEqual({ sampleRate: 0.01, population: 1000 });
  });
});

describe('secagg overrides (issue 12 §4)', () => {
  const base = { rounds: 3, minClients: 5, ddg: { epsilon: 4 } };
  it('refuses neighbours/threshold weaker than the minimum for the expected clients per round', () => {
    // 1000 per round at δ = γ = 0.1: k = 2, t = 2 is cut apart and exposes clients.
    expect(issues({ ...base, selection: { clientsPerRound: 1000 }, secagg: { neighbours: 2, threshold: 2 } })).toEqual([
      expect.stringMatching(/^secagg\.neighbours: SecAgg\+ k = 2, t = 2 is too weak for n = 1000, δ = 0\.1, γ = 0\.1/),
    ]);
    // 20 per round, complete graph, t = 10: one colluder gets both secrets of a client (2t − k = 1).
    expect(issues({ ...base, selection: { clientsPerRound: 20 }, secagg: { neighbours: 19, threshold: 10, maxColluders: 2 } })).toEqual([
      expect.stringMatching(/^secagg\.threshold: .*n = 20, δ = 0\.1, at most 2 colluders: 2 colluders >= 2t − k = 1/),
    ]);
  });

  it('refuses a run no SecAgg+ parameters exist for, naming n, δ, γ and what would work; and fewer than 3 per round', () => {
    // The default 10 per round cannot meet γ = 0.1 at 2^-40 (even t = k = 9 leaves 10·0.1^9 > 2^-40).
    expect(issues(base)).toEqual([expect.stringMatching(/^secagg\.corruptRate: no SecAgg\+ parameters for n = 10, δ = 0\.1, γ = 0\.1 .*maxColluders/)]);
    expect(issues({ ...base, minClients: 2, selection: { clientsPerRound: 2 }, secagg: { maxColluders: 0 } })).toEqual([
      expect.stringMatching(/^selection: expects 2 clients per round: SecAgg needs at least 3 parties/),
    ]);
    expect(issues({ ...base, selection: { clientsPerRound: 100 } })).toEqual([]);
  });

  it('accepts an override that meets the requirement, and maxColluders alone', () => {
    expect(issues({ ...base, selection: { clientsPerRound: 20 }, secagg: { neighbours: 19, threshold: 12, maxColluders: 2 } })).toEqual([]);
    expect(parseRunConfig({ ...base, secagg: { maxColluders: 1 } }).secagg).toMatchObject({ maxColluders: 1, dropoutRate: 0.1 });
    expect(issues({ ...base, secagg: { maxColluders: -1 } })).toEqual([expect.stringMatching(/^secagg\.maxColluders: /)]);
  });
});
