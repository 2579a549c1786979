import { chachaRandomWords } from '@hushfl/ddp';
import { describe, expect, it } from 'vitest';
import { checkFedOptParams, fedOptStep, NO_FEDOPT_STATE, type FedOptParams, type FedOptState } from './fedOpt.ts';

/** Seeded values in [−scale, scale). */
function values(seed: number, n: number, scale: number): Float64Array {
  const key = new Uint8Array(32);
  key[0] = seed;
  const rw = chachaRandomWords(key);
  return Float64Array.from({ length: n }, () => (rw.next() / 2 ** 32 - 0.5) * 2 * scale);
}

const f = Math.fround;

/** Reddi et al. 2021, Algorithm 2, coordinate by coordinate, with the state rounded to float32 as stored. */
function reference(x0: Float64Array, means: Float64Array[], p: FedOptParams): Float64Array {
  const d = x0.length;
  const x = Float64Array.from(x0, f);
  const m = new Float64Array(d);
  const v = new Float64Array(d).fill(f(p.tau * p.tau));
  for (const g of means) {
    for (let i = 0; i < d; i++) {
      if (p.optimizer === 'fedavg') {
        x[i] = f(x[i]! + p.learningRate * g[i]!);
        continue;
      }
      if (p.optimizer === 'fedavgm') {
        m[i] = f(p.beta1 * m[i]! + g[i]!);
        x[i] = f(x[i]! + p.learningRate * m[i]!);
        continue;
      }
      m[i] = f(p.beta1 * m[i]! + (1 - p.beta1) * g[i]!);
      const g2 = g[i]! * g[i]!;
      if (p.optimizer === 'fedadagrad') v[i] = f(v[i]! + g2);
      else if (p.optimizer === 'fedadam') v[i] = f(p.beta2 * v[i]! + (1 - p.beta2) * g2);
      else v[i] = f(v[i]! - (1 - p.beta2) * g2 * Math.sign(v[i]! - g2));
      x[i] = f(x[i]! + (p.learningRate * m[i]!) / (Math.sqrt(v[i]!) + p.tau));
    }
  }
  return x;
}

const base = { learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 } as const;

describe('fedOptStep (Reddi et al. 2021, Algorithm 2)', () => {
  const d = 64;
  const x0 = values(1, d, 1);
  const means = [values(2, d, 0.01), values(3, d, 0.02), values(4, d, 0.005), values(5, d, 0.03)];
  for (const optimizer of ['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'] as const) {
    it(`${optimizer}: four rounds give the paper's update exactly, and a run resumed from its state continues bit for bit`, () => {
      const p = { ...base, optimizer };
      let w: Float32Array = Float32Array.from(x0);
      let state: FedOptState = NO_FEDOPT_STATE;
      const states: { w: Float32Array; state: FedOptState }[] = [];
      for (const g of means) {
        ({ weights: w, state } = fedOptStep(w, g, state, p));
        states.push({ w, state });
      }
      expect(Array.from(w)).toEqual(Array.from(reference(x0, means, p)));
      // Resume after round 2 from the stored (float32) weights and state.
      const stored = states[1]!;
      const copy = (a: Float32Array | null) => (a ? Float32Array.from(a) : null);
      let r: { weights: Float32Array; state: FedOptState } = {
        weights: Float32Array.from(stored.w),
        state: { m: copy(stored.state.m), v: copy(stored.state.v) } as FedOptState,
      };
      for (const g of means.slice(2)) r = fedOptStep(r.weights, g, r.state, p);
      expect(Array.from(r.weights)).toEqual(Array.from(w));
    });
  }

  it('fedyogi grows v only by (1 − β2)·Δ² where Δ² > v, and shrinks it there otherwise (the sign term)', () => {
    const p = { ...base, optimizer: 'fedyogi' as const, tau: 0.1 };
    const one = fedOptStep(Float32Array.of(0, 0), Float64Array.of(1, 0.01), NO_FEDOPT_STATE, p);
    // v_{-1} = τ² = 0.01: Δ² = 1 > v grows it; Δ² = 1e-4 < v shrinks it.
    expect(one.state.v![0]).toBeCloseTo(0.01 + 0.01 * 1, 6);
    expect(one.state.v![1]).toBeCloseTo(0.01 - 0.01 * 1e-4, 9);
  });

  it('refuses parameters the optimizers cannot use, and a mean or state of another size', () => {
    expect(() => checkFedOptParams({ ...base, optimizer: 'fedadam', tau: 0 })).toThrow('tau must be positive, got 0');
    expect(() => checkFedOptParams({ ...base, optimizer: 'fedadam', beta2: 1 })).toThrow('beta2 must be in [0, 1), got 1');
    expect(() => checkFedOptParams({ ...base, optimizer: 'sgd' as never })).toThrow('unknown server optimizer sgd');
    expect(() => fedOptStep(Float32Array.of(0), Float64Array.of(1, 2), NO_FEDOPT_STATE, { ...base, optimizer: 'fedadam' })).toThrow(
      'the released mean has 2 values, the model 1',
    );
    expect(() => fedOptStep(Float32Array.of(0), Float64Array.of(1), { m: new Float32Array(3), v: null }, { ...base, optimizer: 'fedadam' })).toThrow(
      'the optimizer state m has 3 values, the model 1',
    );
  });
});
