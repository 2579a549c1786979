/**
 * Federated evaluation through the RunEngine (issue 14 §5): the plan extends the DDG dimension by the metric
 * coordinates, the task carries the bounds, and a released round's federated totals are the sums of the
 * clients' own metrics (the test knows them; the coordinator only ever holds the masked inputs and their sum).
 */
import { FEDERATED_METRICS, metricUnitsPerCoordinate, type FederatedSums } from '@hushfl/ddp';
import type { TaskMessage } from '@hushfl/protocol';
import { describe, expect, it } from 'vitest';
import { planDdg } from './ddgPlan.ts';
import { NO_FEDOPT_STATE } from './fedOpt.ts';
import { configuredEvaluation, federatedCoordinates, federatedMetricsOf, roundEvaluation } from './federatedEvaluation.ts';
import { runInMemory, VirtualClock } from './inMemory.ts';
import type { PersistOp, RunCommand } from './runEngine.ts';
import { RunEngine } from './runEngine.ts';
import { engineTestConfig, fakeClient, recordingTasks } from './testing.ts';
import { chachaRandomWords } from '@hushfl/ddp';

const DIM = 7850;

function seeded(tag: number) {
  const s = new Uint8Array(32);
  s[3] = tag;
  return chachaRandomWords(s);
}

/** Client i's metric sums for contribution j in round r: integers within N_max = 1000, losses within N·L. */
function metricsOf(i: number, round: number, j: number): FederatedSums {
  const examples = 40 + 13 * i + 7 * j + round;
  const trainExamples = 360 + 11 * i + 5 * j;
  return {
    heldOut: { lossSum: examples * (0.9 + 0.1 * i), correct: Math.floor(examples * (0.5 + 0.05 * i)), examples },
    train: { lossSum: trainExamples * 0.4, correct: Math.floor(trainExamples * 0.8), examples: trainExamples },
  };
}

function update(i: number, round: number, j: number): Float32Array {
  return Float32Array.from({ length: DIM }, (_, k) => 0.004 * Math.sin(0.37 * k + 1.3 * i + 0.7 * round + 2.1 * j));
}

describe('the DDG plan with federated evaluation', () => {
  it('extends the DDG dimension by the metric coordinates; fraction 0 leaves it at d', () => {
    const on = engineTestConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 } });
    expect(configuredEvaluation(on)).toEqual({ fraction: 0.1, maxExamples: 1000, maxLoss: 10, normShare: 0.25 });
    expect(federatedCoordinates(on)).toBe(FEDERATED_METRICS);
    expect(planDdg(on, DIM).params.dim).toBe(DIM + FEDERATED_METRICS);
    // The padded dimension (the accountant's and SecAgg's) is of d + k: at d = 2^13 − 2 it doubles.
    expect(planDdg(on, 8190).dimPadded).toBe(16384);
    const off = engineTestConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 }, evaluation: { fraction: 0 } });
    expect(federatedCoordinates(off)).toBe(0);
    expect(planDdg(off, 8190).params.dim).toBe(8190);
    expect(planDdg(off, 8190).dimPadded).toBe(8192);
  });

  it('a round uses the evaluation its plan was made for: none for a plan of d (runs planned before it), refused for one that fits neither', () => {
    const on = engineTestConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 } });
    expect(roundEvaluation(on, DIM + FEDERATED_METRICS, DIM)).toEqual(configuredEvaluation(on));
    expect(roundEvaluation(on, DIM, DIM)).toBeNull();
    expect(() => roundEvaluation(on, DIM + 1, DIM)).toThrow(/does not fit the model/);
    const off = engineTestConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 }, evaluation: { fraction: 0 } });
    expect(() => roundEvaluation(off, DIM + FEDERATED_METRICS, DIM)).toThrow(/does not fit the model/);
  });

  it('clamps the noisy ratios and keeps the raw totals', () => {
    const m = federatedMetricsOf({
      heldOut: { lossSum: -3, correct: 105, examples: 100 },
      train: { lossSum: 50, correct: 20, examples: 0.4 },
    });
    expect(m).toMatchObject({ accuracy: 1, loss: 0, examples: 100, correct: 105, lossSum: -3, trainAccuracy: null, trainLoss: null, trainExamples: 0.4 });
  });
});

describe('a run with federated evaluation', () => {
  it('releases totals equal to the sums of the clients’ own metrics (no noise: up to quantisation)', async () => {
    const config = engineTestConfig({ rounds: 2, minClients: 4, selection: { clientsPerRound: 5 } });
    const plan = planDdg(config, DIM);
    const clock = new VirtualClock();
    const engine = new RunEngine(
      {
        run: { id: 'run-fed', name: config.name, createdAt: 0, dim: DIM },
        config,
        plan,
        weights: new Float32Array(DIM),
        optimizerState: NO_FEDOPT_STATE,
        completedRound: -1,
      },
      { now: clock.now, random: seeded(1), seeds: seeded(2) },
    );
    const miniClients = (i: number) => (i === 2 ? 2 : 1);
    const tasks: TaskMessage[] = [];
    const commands: RunCommand[] = [];
    const clients = Array.from({ length: 5 }, (_, i) => {
      const fake = fakeClient({ update: (r, j) => update(i, r, j), metrics: (r, j) => metricsOf(i, r, j) });
      return {
        clientId: `client-${i}`,
        miniClients: miniClients(i),
        make: recordingTasks(fake, tasks),
      };
    });
    const result = await runInMemory({ engine, clock, clients, observe: (c) => commands.push(c) });
    expect(result.state).toBe('completed');

    // Every task said how to bound the metrics, and the DDG dimension includes them.
    const releases = commands.filter((c): c is Extract<RunCommand, { kind: 'release' }> => c.kind === 'release');
    expect(releases).toHaveLength(2);
    expect(tasks.length).toBe(releases.reduce((s, r) => s + r.summary.selected, 0));
    for (const t of tasks as { ddg: { dim: number }; evaluation: unknown; model: { weights: Uint8Array } }[]) {
      expect(t.ddg.dim).toBe(DIM + FEDERATED_METRICS);
      expect(t.model.weights.length).toBe(4 * DIM);
      expect(t.evaluation).toEqual({ fraction: 0.1, maxExamples: 1000, maxLoss: 10, normShare: 0.25 });
    }

    const units = metricUnitsPerCoordinate(plan.params.clip, config.evaluation);
    for (const rel of releases) {
      const round = rel.summary.round;
      expect(rel.mean.length).toBe(DIM);
      const want = { lossSum: 0, correct: 0, examples: 0, trainLossSum: 0, trainCorrect: 0, trainExamples: 0 };
      let contributions = 0;
      for (const id of rel.included) {
        const i = Number(id.split('-')[1]);
        for (let j = 0; j < miniClients(i); j++) {
          const m = metricsOf(i, round, j);
          want.lossSum += m.heldOut.lossSum;
          want.correct += m.heldOut.correct;
          want.examples += m.heldOut.examples;
          want.trainLossSum += m.train.lossSum;
          want.trainCorrect += m.train.correct;
          want.trainExamples += m.train.examples;
          contributions++;
        }
      }
      expect(rel.summary.contributors).toBe(contributions);
      const f = rel.summary.federated!;
      // Rounding only: a coordinate of the sum is off by about γ·√n/2; 16 times that in metric units.
      const tol = 16 * plan.params.gamma * Math.sqrt(contributions);
      expect(Math.abs(f.examples - want.examples)).toBeLessThan(tol * units.count);
      expect(Math.abs(f.correct - want.correct)).toBeLessThan(tol * units.count);
      expect(Math.abs(f.lossSum - want.lossSum)).toBeLessThan(tol * units.loss);
      expect(Math.abs(f.trainExamples - want.trainExamples)).toBeLessThan(tol * units.count);
      expect(Math.abs(f.trainCorrect - want.trainCorrect)).toBeLessThan(tol * units.count);
      expect(Math.abs(f.trainLossSum - want.trainLossSum)).toBeLessThan(tol * units.loss);
      expect(Math.round(f.examples)).toBe(want.examples);
      expect(Math.round(f.correct)).toBe(want.correct);
      expect(f.accuracy).toBeCloseTo(want.correct / want.examples, 3);
      expect(f.loss).toBeCloseTo(want.lossSum / want.examples, 2);
      expect(f.trainAccuracy).toBeCloseTo(want.trainCorrect / want.trainExamples, 3);
      expect(f.trainLoss).toBeCloseTo(want.trainLossSum / want.trainExamples, 2);
    }

    // The round records, their persisted form and server_metrics.json carry the same figures; no evaluator here: accuracy null.
    const persisted = commands.flatMap((c) => (c.kind === 'persist' ? [c.what] : []));
    const finished = persisted.filter((p): p is Extract<PersistOp, { op: 'round-finished' }> => p.op === 'round-finished');
    expect(finished.map((p) => p.record.federated)).toEqual(releases.map((r) => r.summary.federated));
    expect(engine.rounds.map((r) => r.federated)).toEqual(releases.map((r) => r.summary.federated));
    const doc = engine.metrics();
    expect(doc.rounds.map((r) => r.federated)).toEqual(releases.map((r) => r.summary.federated));
    expect(doc.rounds.every((r) => r.accuracy === null)).toBe(true);
    expect(doc.model).toMatchObject({ dim: DIM, ddgDim: DIM + FEDERATED_METRICS });
    expect(doc.evaluation).toEqual(configuredEvaluation(config));
  });

  it('with fraction 0 the tasks carry no evaluation, the DDG dimension is d and rounds have federated: null', async () => {
    const config = engineTestConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 }, evaluation: { fraction: 0 } });
    const clock = new VirtualClock();
    const engine = new RunEngine(
      {
        run: { id: 'run-off', name: config.name, createdAt: 0, dim: DIM },
        config,
        plan: planDdg(config, DIM),
        weights: new Float32Array(DIM),
        optimizerState: NO_FEDOPT_STATE,
        completedRound: -1,
      },
      { now: clock.now, random: seeded(3), seeds: seeded(4) },
    );
    const tasks: TaskMessage[] = [];
    const clients = Array.from({ length: 3 }, (_, i) => {
      const fake = fakeClient({ update: (r, j) => update(i, r, j) });
      return {
        clientId: `c-${i}`,
        miniClients: 1,
        make: recordingTasks(fake, tasks),
      };
    });
    const released: Extract<RunCommand, { kind: 'release' }>[] = [];
    expect((await runInMemory({ engine, clock, clients, observe: (c) => c.kind === 'release' && released.push(c) })).state).toBe('completed');
    expect(tasks.every((t) => t.ddg.dim === DIM && t.evaluation === undefined)).toBe(true);
    expect(released[0]!.summary.federated).toBeNull();
    expect(engine.metrics().evaluation).toBeNull();
  });

  it('under Poisson selection the mean divides by q·N, the totals stay sums over who took part', async () => {
    const q = 0.5;
    const population = 12;
    const config = engineTestConfig({ rounds: 2, minClients: 3, selection: { sampleRate: q, population, maxShortfall: 0.03 } });
    const plan = planDdg(config, DIM);
    const clock = new VirtualClock();
    const engine = new RunEngine(
      {
        run: { id: 'run-poisson', name: config.name, createdAt: 0, dim: DIM },
        config,
        plan,
        weights: new Float32Array(DIM),
        optimizerState: NO_FEDOPT_STATE,
        completedRound: -1,
      },
      { now: clock.now, random: seeded(5), seeds: seeded(6) },
    );
    const clients = Array.from({ length: population }, (_, i) => ({
      clientId: `p-${i}`,
      miniClients: 1,
      make: fakeClient({ update: (r, j) => update(i, r, j), metrics: (r, j) => metricsOf(i, r, j) }),
    }));
    const released: Extract<RunCommand, { kind: 'release' }>[] = [];
    expect((await runInMemory({ engine, clock, clients, observe: (c) => c.kind === 'release' && released.push(c) })).state).toBe('completed');
    expect(released.some((r) => r.summary.contributors !== q * population)).toBe(true);
    const units = metricUnitsPerCoordinate(plan.params.clip, config.evaluation);
    for (const rel of released) {
      const own = rel.included.map((id) => metricsOf(Number(id.split('-')[1]), rel.summary.round, 0));
      const examples = own.reduce((s, m) => s + m.heldOut.examples, 0);
      const f = rel.summary.federated!;
      expect(Math.abs(f.examples - examples)).toBeLessThan(16 * plan.params.gamma * Math.sqrt(own.length) * units.count);
      expect(Math.round(f.correct)).toBe(own.reduce((s, m) => s + m.heldOut.correct, 0));
    }
  });
});
