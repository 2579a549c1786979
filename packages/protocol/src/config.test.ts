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
    const c = parseRunConfig({ rounds: 5, minClients: 8, ddg: { epsilon: 4 } });
    expect(c.task.model).toEqual({ kind: 'mlp', hidden: [64] });
    expect(c.selection).toEqual({ clientsPerRound: 10 });
    expect(c.deadlines.training).toBe(120);
    expect(c.ddg.bits).toBe(16);
    expect(c.ddg.beta).toBeCloseTo(Math.exp(-0.5), 12);
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

  it('accepts Poisson selection', () => {
    const c = parseRunConfig({ rounds: 3, minClients: 5, selection: { sampleRate: 0.01, population: 1000 }, ddg: { epsilon: 4 } });
    expect(c.selection).toEqual({ sampleRate: 0.01, population: 1000 });
  });
});
