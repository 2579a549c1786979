/** Issue 12 §1/§4 in the round engine: overrides weaker than the minimum for the actual n are refused; the task states the requirement. */
import type { DdgParams } from '@hushfl/ddp';
import type { TaskMessage } from '@hushfl/protocol';
import { chooseSecAggParams } from '@hushfl/secagg';
import { describe, expect, it } from 'vitest';
import { RoundEngine, type RoundSetup } from './roundEngine.ts';

const ddg: DdgParams = { dim: 8, clip: 1, gamma: 1e-4, beta: 0, bits: 24, localStddev: 0 };

function setup(n: number, secagg: RoundSetup['secagg']): RoundSetup {
  return {
    runId: 'run-p',
    round: 0,
    attempt: 1,
    parties: Array.from({ length: n }, (_, i) => ({ clientId: `c${i}`, contributions: 1 })),
    modelSpec: { kind: 'mlp', hidden: [] },
    task: 'mnist',
    weights: new Float32Array(8),
    training: { epochs: 1, batchSize: 8, learningRate: 0.1 },
    dpsgd: null,
    ddg,
    secagg,
    deadlinesMs: { 'advertise-keys': 1000, 'share-keys': 1000, 'masked-input': 1000, 'consistency-check': 1000, unmasking: 1000 },
    minParties: 3,
    rotationSeed: new Uint8Array(32).fill(1),
    graphValue: new Uint8Array(32).fill(2),
  };
}

describe('RoundEngine.secaggParams', () => {
  it('chooses with the guarantee and abort probability the run reports', () => {
    const p = RoundEngine.secaggParams(500, { dropoutRate: 0.1, corruptRate: 0.1 });
    expect(p).toEqual(chooseSecAggParams(500, { dropoutRate: 0.1, corruptRate: 0.1 }));
    expect(RoundEngine.secaggParams(8, { dropoutRate: 0.1, corruptRate: 0.1, maxColluders: 1 }).guarantee).toEqual({ kind: 'colluders', maxColluders: 1 });
  });

  it('refuses an override weaker than the minimum for the actual n, with the reason', async () => {
    expect(() => RoundEngine.secaggParams(1000, { dropoutRate: 0.1, corruptRate: 0.1, neighbours: 2, threshold: 2 })).toThrow(/too weak for n = 1000/);
    // k = 19, t = 10 at n = 20: one colluder suffices (2t − k = 1).
    await expect(RoundEngine.start(setup(20, { dropoutRate: 0.1, corruptRate: 0.1, maxColluders: 1, neighbours: 19, threshold: 10 }))).rejects.toThrow(
      /1 colluders >= 2t − k = 1/,
    );
    const strong = chooseSecAggParams(20, { maxColluders: 1 });
    expect(RoundEngine.secaggParams(20, { dropoutRate: 0.1, corruptRate: 0.1, maxColluders: 1, neighbours: 19, threshold: strong.threshold }).threshold).toBe(
      strong.threshold,
    );
  });

  it('the task carries δ, γ and maxColluders for the clients to check', async () => {
    const { commands } = await RoundEngine.start(setup(5, { dropoutRate: 0.1, corruptRate: 0.1, maxColluders: 1 }));
    const task = commands.find((c) => c.kind === 'send' && c.event === 'task');
    const p = chooseSecAggParams(5, { maxColluders: 1 });
    expect((task as { payload: TaskMessage }).payload.secagg).toMatchObject({
      neighbours: p.neighbours,
      threshold: p.threshold,
      dropoutRate: 0.1,
      corruptRate: 0.1,
      maxColluders: 1,
    });
    const { commands: rate } = await RoundEngine.start(setup(20, { dropoutRate: 0.1, corruptRate: 0.1 }));
    const secagg = (rate.find((c) => c.kind === 'send' && c.event === 'task') as { payload: TaskMessage }).payload.secagg;
    expect(secagg).toMatchObject({ dropoutRate: 0.1, corruptRate: 0.1 });
    expect('maxColluders' in secagg).toBe(false);
  });
});
