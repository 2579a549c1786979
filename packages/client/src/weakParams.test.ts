/**
 * Issue 12 §4: a task with (k, t) weaker than the minimum for its n and requirement is refused before any
 * training, and the refusal is reported (phase 'failed', the message the page shows).
 */
import type { TaskMessage } from '@hushfl/protocol';
import { describe, expect, it } from 'vitest';
import { type LocalReport, wireReport } from './report.ts';
import { ClientRuntime } from './runtime.ts';
import type { Trainer } from './trainer.ts';

function task(n: number, neighbours: number, threshold: number, requirement: Partial<TaskMessage['secagg']> = {}): TaskMessage {
  return {
    runId: 'run-weak',
    round: 0,
    attempt: 1,
    roundId: 'run-weak/r0/a1',
    task: 'mnist',
    model: { spec: { kind: 'mlp', hidden: [] }, weights: new Uint8Array(16) },
    training: { epochs: 1, batchSize: 8, learningRate: 0.1 },
    dpsgd: null,
    ddg: { dim: 4, clip: 1, gamma: 1e-3, beta: 0, bits: 16, localStddev: 0 },
    rotationSeed: new Uint8Array(32),
    secagg: {
      id: 1,
      clients: Array.from({ length: n }, (_, i) => i + 1),
      neighbours,
      threshold,
      graphCommitment: new Uint8Array(32),
      dropoutRate: 0.1,
      corruptRate: 0.1,
      ...requirement,
    },
    contributions: 1,
    trainingDeadlineMs: 1000,
  };
}

function runtime() {
  const reports: LocalReport[] = [];
  let trained = 0;
  const trainer: Trainer = {
    miniClients: 1,
    backend: 'none',
    train: async () => {
      trained++;
      throw new Error('must not train');
    },
    dispose() {},
  };
  const rt = new ClientRuntime(trainer, { sendSecAgg: () => {}, report: (r) => reports.push(r) });
  return { rt, reports, trained: () => trained };
}

describe('the client refuses weak SecAgg parameters', () => {
  it('n = 1000, k = 2, t = 2 at δ = γ = 0.1: reported as failed before training', async () => {
    const { rt, reports, trained } = runtime();
    await rt.onTask(task(1000, 2, 2));
    expect(trained()).toBe(0);
    expect(reports).toEqual([
      {
        roundId: 'run-weak/r0/a1',
        phase: 'failed',
        failedAt: 'task',
        error: expect.stringMatching(/k = 2, t = 2 is too weak for n = 1000, δ = 0\.1, γ = 0\.1/),
      },
    ]);
    // The task's own fault, about the protocol: the coordinator may hear the reason.
    expect(wireReport(reports[0]!).error).toBe(reports[0]!.error);
    expect(reports[0]!.error!.length).toBeLessThanOrEqual(500); // the report schema's limit: the whole reason reaches the page
  });

  it('n = 2, k = 1, t = 1: refused, at least 3 parties', async () => {
    const { rt, reports, trained } = runtime();
    await rt.onTask(task(2, 1, 1, { maxColluders: 0 }));
    expect(trained()).toBe(0);
    expect(reports[0]).toMatchObject({ phase: 'failed', error: expect.stringMatching(/at least 3 parties/) });
  });

  it('the complete graph with t = ⌊k/2⌋ + 1 at n = 20 is refused under maxColluders = 2 (2t − k = 1)', async () => {
    const { rt, reports } = runtime();
    await rt.onTask(task(20, 19, 10, { maxColluders: 2 }));
    expect(reports[0]).toMatchObject({ phase: 'failed', error: expect.stringMatching(/n = 20, δ = 0\.1, at most 2 colluders/) });
  });
});
