/** Issue 12 §4: a client refuses (k, t) weaker than the minimum for n under the task's requirement. */
import { describe, expect, it } from 'vitest';
import { SecAggClient } from './client.ts';
import type { SecAggConfig } from './messages.ts';
import { chooseSecAggParams } from './params.ts';

function config(n: number, neighbours: number, threshold: number): SecAggConfig {
  return {
    roundId: 'weak-params',
    clients: Array.from({ length: n }, (_, i) => i + 1),
    bits: 8,
    dim: 4,
    neighbours,
    threshold,
    graphCommitment: new Uint8Array(32),
  };
}

describe('SecAggClient.create refuses weak parameters', () => {
  it('n = 1000, k = 2, t = 2: refused under the defaults (δ = γ = 0.1) and under the task’s requirement', async () => {
    await expect(SecAggClient.create(config(1000, 2, 2), 1, new Uint32Array(4))).rejects.toMatchObject({
      code: 'bad-parameters',
      message: expect.stringMatching(/k = 2, t = 2 is too weak for n = 1000, δ = 0\.1, γ = 0\.1.*the minimum is k = \d+, t = \d+/),
    });
    await expect(SecAggClient.create(config(1000, 2, 2), 1, new Uint32Array(4), { requirement: { dropoutRate: 0.05, maxColluders: 1 } })).rejects.toThrow(
      /too weak for n = 1000, δ = 0\.05, at most 1 colluders/,
    );
  });

  it('n = 2, k = 1, t = 1: refused (each party would learn the other’s input from the sum)', async () => {
    await expect(SecAggClient.create(config(2, 1, 1), 1, new Uint32Array(4), { requirement: { maxColluders: 0 } })).rejects.toThrow(/at least 3 parties/);
  });

  it('accepts the chosen parameters, and a small round under an absolute bound', async () => {
    const p = chooseSecAggParams(1000);
    await expect(SecAggClient.create(config(1000, p.neighbours, p.threshold), 7, new Uint32Array(4))).resolves.toBeInstanceOf(SecAggClient);
    const q = chooseSecAggParams(5, { maxColluders: 1 });
    const requirement = { dropoutRate: 0.1, maxColluders: 1 };
    await expect(SecAggClient.create(config(5, q.neighbours, q.threshold), 2, new Uint32Array(4), { requirement })).resolves.toBeInstanceOf(SecAggClient);
    // The same small round under the default rate γ = 0.1 has no parameters at all: refused, never γ = 0.
    await expect(SecAggClient.create(config(5, q.neighbours, q.threshold), 2, new Uint32Array(4))).rejects.toThrow(/n = 5, δ = 0\.1, γ = 0\.1/);
  });
});
