import { describe, expect, it } from 'vitest';
import { SyntheticTrainer } from './syntheticTrainer.ts';

describe('SyntheticTrainer (the load generator)', () => {
  it('returns a fresh update of the model dimension with the given norm, without training', async () => {
    const t = new SyntheticTrainer(2, 0.25);
    const req = { spec: { kind: 'mlp', hidden: [] }, task: 'mnist', global: new Float32Array(1000), training: {}, dpsgd: null, miniClient: 1 } as never;
    const a = await t.train(req);
    const b = await t.train(req);
    expect(a.delta).toHaveLength(1000);
    expect(Math.hypot(...a.delta)).toBeCloseTo(0.25, 5);
    expect(a.delta).not.toEqual(b.delta);
    expect(a.examples).toBe(1);
    expect(() => new SyntheticTrainer(0)).toThrow(RangeError);
  });
});
