/**
 * Adaptive clipping through the run engine (issue 15 §3; Andrew et al. 2021): the clip follows the target
 * quantile of update norms via the noisy clipped count, the mean is of the updates clipped to C_t, C_t is
 * committed and resumed, and the ledger is the composed (update, count) bound computed here from the formulas.
 */
import { ddgTau, inflatedL2Bound, l1BoundFromL2, RDP_ORDERS, rdpToEpsilon } from '@hushfl/ddp';
import type { RunConfig } from '@hushfl/protocol';
import { describe, expect, it } from 'vitest';
import { planDdg } from './ddgPlan.ts';
import { NO_FEDOPT_STATE } from './fedOpt.ts';
import { runInMemory, VirtualClock } from './inMemory.ts';
import { type PersistOp, type RunCommand, RunEngine, type RunSetup } from './runEngine.ts';
import { engineTestConfig, fakeClient, seededWords } from './testing.ts';

const DIM = 48;

/** Client i's update: norm `norms[i]` every round, a direction of its own. */
function updateOf(norm: number, i: number, round: number): Float32Array {
  const v = Float32Array.from({ length: DIM }, (_, k) => Math.sin(0.7 * k + 1.9 * i + 0.3 * round));
  let sq = 0;
  for (const x of v) sq += x * x;
  const s = norm / Math.sqrt(sq);
  return v.map((x) => x * s);
}

async function drive(config: RunConfig, norms: readonly number[], setup: Partial<RunSetup> = {}) {
  const clock = new VirtualClock();
  const engine = new RunEngine(
    {
      run: { id: 'run-clip', name: config.name, createdAt: 0, dim: DIM },
      config,
      plan: planDdg(config, DIM),
      weights: new Float32Array(DIM),
      optimizerState: NO_FEDOPT_STATE,
      completedRound: -1,
      ...setup,
    },
    { now: clock.now, random: seededWords(1), seeds: seededWords(2) },
  );
  const commands: RunCommand[] = [];
  const persisted: PersistOp[] = [];
  const clients = norms.map((norm, i) => ({
    clientId: `c${i}`,
    miniClients: 1,
    make: fakeClient({ update: (round) => updateOf(norm, i, round) }),
  }));
  const result = await runInMemory({
    engine,
    clock,
    clients,
    observe: (c) => {
      commands.push(c);
      if (c.kind === 'persist') persisted.push(c.what);
    },
  });
  const released = engine.rounds.filter((r) => r.status === 'completed');
  return { engine, result, commands, persisted, released };
}

// Ten parties whose update norms are 0.2, 0.4, …, 2.0.
const NORMS = Array.from({ length: 10 }, (_, i) => 0.2 * (i + 1));

describe('adaptive clipping (Andrew et al. 2021) in the run engine', () => {
  for (const [quantile, lo, hi] of [
    [0.5, 1.0, 1.2],
    [0.8, 1.6, 1.8],
  ] as const) {
    it(`C_t converges to the ${quantile} quantile of the update norms (exact count, no noise)`, async () => {
      const config = engineTestConfig({
        rounds: 20,
        minClients: 10,
        selection: { clientsPerRound: 10 },
        ddg: { noise: false, bits: 24, clip: 0.3, adaptiveClip: { targetQuantile: quantile, learningRate: 0.5 } },
        evaluation: { fraction: 0 },
      });
      const h = await drive(config, NORMS);
      expect(h.result.state).toBe('completed');
      const clips = h.released.map((r) => r.clip!);
      expect(clips[0]).toBeCloseTo(0.3, 12);
      // Each step is C·exp(−η(b̄ − γ)) with the exact share b̄ of norms within C.
      for (let t = 0; t + 1 < clips.length; t++) {
        const within = NORMS.filter((n) => n <= clips[t]!).length / NORMS.length;
        expect(h.released[t]!.clipFraction).toBeCloseTo(within, 9);
        expect(clips[t + 1]).toBeCloseTo(clips[t]! * Math.exp(-0.5 * (within - quantile)), 9);
      }
      // The last clips sit between the norms around the target quantile (a fixed point where b̄ = γ).
      for (const c of clips.slice(-5)) {
        expect(c).toBeGreaterThanOrEqual(lo * 0.97);
        expect(c).toBeLessThan(hi * 1.03);
      }
      // The released mean is of the updates clipped to C_t (within the quantization error).
      const release = h.commands.filter((c): c is Extract<RunCommand, { kind: 'release' }> => c.kind === 'release').at(-1)!;
      const round = release.summary.round;
      const plain = new Float64Array(DIM);
      for (const [i, n] of NORMS.entries()) {
        const u = updateOf(n, i, round);
        const s = Math.min(1, clips[round]! / n);
        for (let k = 0; k < DIM; k++) plain[k]! += (u[k]! * s) / NORMS.length;
      }
      let worst = 0;
      for (let k = 0; k < DIM; k++) worst = Math.max(worst, Math.abs(release.mean[k]! - plain[k]!));
      expect(worst).toBeLessThan(1e-4);
      expect(release.summary.clip).toBe(clips[round]);
    });
  }

  it('with DDG noise: the count has its own noise, the ledger is the composed bound of both releases, and C resumes from the checkpoint', async () => {
    const config = engineTestConfig({
      rounds: 4,
      minClients: 8,
      selection: { clientsPerRound: 10 },
      ddg: { bits: 20, clip: 0.5, epsilon: 8, delta: 1e-5, adaptiveClip: { targetQuantile: 0.5, countNoise: 1 } },
      evaluation: { fraction: 0 },
      secagg: { maxColluders: 1, dropoutRate: 0.1 },
    });
    const plan = planDdg(config, DIM);
    const cc = plan.clipCount!;
    // σ_b = 1 on Σb at n_min = 8: s = 2σ_b/√8 per party in sign units, sent as ±h with grid noise g = s·h ≥ 2.
    expect(cc.countScale).toBe(Math.ceil(2 / (2 / Math.sqrt(8))));
    expect(cc.countStddev).toBeCloseTo((2 / Math.sqrt(8)) * cc.countScale, 12);
    expect(cc.countNoise).toBeCloseTo(1, 12);
    expect(cc.modelEpsilon! + 1e-9).toBeLessThan(8);
    expect(cc.countEpsilon! + 1e-9).toBeLessThan(8);
    expect(plan.params.localStddev).toBeGreaterThan(cc.localStddevWithoutCount!);

    const first = await drive(config, NORMS.slice(0, 10));
    expect(first.result.state).toBe('completed');
    // Per round, from the formulas (Kairouz, Liu & Steinke 2021, Thm 1 / Prop. 14 with d′ = 1 for the count),
    // each party's noise counted: n = the parties in the sum; no sampling amplification (fixed-size selection).
    const composed = (n: number) => {
      const d = plan.dimPadded;
      const s = plan.params.localStddev / plan.params.gamma;
      const l2s = inflatedL2Bound(plan.params.clip / plan.params.gamma, plan.params.beta, d);
      const l2 = l2s / (Math.sqrt(n) * s);
      const l1 = l1BoundFromL2(l2s, d) / (Math.sqrt(n) * s);
      const tau = ddgTau(s, n);
      const b = cc.countScale / (Math.sqrt(n) * cc.countStddev);
      const tb = ddgTau(cc.countStddev, n);
      return RDP_ORDERS.map((a) => {
        const model = Math.min((a / 2) * l2 * l2 + tau * d, (a / 2) * (l2 * l2 + 2 * l1 * tau + tau * tau * d), (a / 2) * (l2 + Math.sqrt(d) * tau) ** 2);
        const count = Math.min((a / 2) * b * b + tb, (a / 2) * (b + tb) ** 2);
        return model + count;
      });
    };
    const total = new Array(RDP_ORDERS.length).fill(0);
    for (const r of first.released) {
      const per = composed(r.parties!);
      for (let i = 0; i < total.length; i++) total[i] += per[i]!;
    }
    expect(first.released.at(-1)!.epsilon).toBeCloseTo(rdpToEpsilon(total, plan.delta).epsilon, 9);
    expect(first.released.at(-1)!.epsilon!).toBeLessThanOrEqual(8 * (1 + 1e-6));
    // The noisy count stays near the true one: every norm 0.2…2.0 against C_t, noise σ_b ≈ 1 · √(n/n_min).
    for (const r of first.released) {
      const within = NORMS.filter((n) => n <= r.clip!).length;
      expect(Math.abs(r.clipFraction! * 10 - within)).toBeLessThan(6 * Math.sqrt(10 / 8));
    }
    // C is committed with each round; a run resumed at round 2 starts from that C.
    const commits = first.persisted.flatMap((p) => (p.op === 'round-finished' && p.commit ? [p.commit] : []));
    expect(commits[1]!.clip).toBe(first.released[2]!.clip);
    const resumed = await drive({ ...config, rounds: 4 }, NORMS, {
      weights: commits[1]!.weights,
      optimizerState: commits[1]!.optimizerState,
      clip: commits[1]!.clip!,
      completedRound: 1,
      rounds: first.released.slice(0, 2),
      ledger: undefined,
    });
    expect(resumed.released.find((r) => r.round === 2)!.clip).toBe(commits[1]!.clip);
  });
});
