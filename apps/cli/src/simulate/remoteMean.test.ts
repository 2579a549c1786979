import { describe, expect, it } from 'vitest';
import { serverOptimizerOf, serverConfigSchema } from '@hushfl/protocol';
import { RemoteMean } from './remoteMean.ts';

const params = (learningRate: number, momentum: number) => serverOptimizerOf(serverConfigSchema.parse({ learningRate, momentum }));

/** The coordinator's update rule, applied to known means. */
function serverModels(means: number[][], lr: number, beta: number, w0: number[]): Float32Array[] {
  const out = [Float32Array.from(w0)];
  let w = w0.slice();
  let m = w0.map(() => 0);
  for (const mean of means) {
    m = m.map((v, i) => beta * v + mean[i]!);
    w = w.map((v, i) => v + lr * m[i]!);
    out.push(Float32Array.from(w));
  }
  return out;
}

describe('RemoteMean', () => {
  const means = [
    [0.01, -0.02, 0.005],
    [0.03, 0.0, -0.01],
    [-0.02, 0.01, 0.02],
  ];
  for (const [lr, beta] of [
    [1, 0],
    [0.5, 0.9],
  ] as const) {
    it(`recovers every round's mean from successive models (lr ${lr}, momentum ${beta})`, () => {
      const models = serverModels(means, lr, beta, [0.1, -0.3, 0.7]);
      const r = new RemoteMean(params(lr, beta));
      expect(r.observe(-1, models[0]!)).toBeNull();
      means.forEach((mean, t) => {
        const got = r.observe(t, models[t + 1]!)!;
        for (const [i, v] of mean.entries()) expect(got[i]).toBeCloseTo(v, 5);
      });
    });
  }

  it('cannot know a round whose previous model it missed, nor, with momentum, the one after joining', () => {
    const models = serverModels(means, 1, 0.5, [0, 0, 0]);
    const r = new RemoteMean(params(1, 0.5));
    expect(r.observe(0, models[1]!)).toBeNull(); // joined at round 0: m before it unknown
    expect(r.observe(1, models[2]!)).toBeNull(); // m_0 needs w_{-1}
    expect(r.observe(2, models[3]!)![0]).toBeCloseTo(means[2]![0]!, 5);
    const plain = new RemoteMean(params(1, 0));
    plain.observe(0, models[1]!);
    expect(plain.observe(2, models[3]!)).toBeNull(); // round 1 missed
  });

  it('recovers nothing under an adaptive optimizer, whose step divides by √v + τ', () => {
    const models = serverModels(means, 0.01, 0, [0, 0, 0]);
    const r = new RemoteMean(serverOptimizerOf(serverConfigSchema.parse({ optimizer: 'fedadam', learningRate: 0.01 })));
    expect(r.recoverable).toBe(false);
    r.observe(-1, models[0]!);
    expect(r.observe(0, models[1]!)).toBeNull();
  });
});
