/**
 * Custom models (issue 14 §4): a Keras model converted to a TensorFlow.js layers model.json is part of the run
 * config the API takes, checked against the task and the supported layers, and trained by real clients.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RunConfigInput } from '@hushfl/protocol';
import { SUPPORTED_LAYERS, parseModelJson } from '@hushfl/tasks';

type ModelSpecInput = NonNullable<NonNullable<RunConfigInput['task']>['model']>;
import { afterEach, describe, expect, it } from 'vitest';
import { startClients, startTestCoordinator, stopAll, testConfig } from './testing.ts';

const fixture = (name: string) => parseModelJson(readFileSync(fileURLToPath(import.meta.resolve(`@hushfl/tasks/fixtures/${name}`)), 'utf8')).topology;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

describe('a Keras-converted model.json', () => {
  it('is refused by the API, each unsupported layer named with the supported list, or for the wrong classes', async () => {
    const { c } = await startTestCoordinator();
    cleanups.push(() => c.close());
    const post = (model: ModelSpecInput, task: Record<string, unknown> = {}) =>
      fetch(`${c.url}/api/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${c.operatorToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(testConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 }, task: { model, ...task } })),
      });
    const bad = await post({ kind: 'layers', topology: fixture('keras-unsupported-layers.model.json') });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { issues: { path: string; message: string }[] };
    const messages = body.issues.filter((i) => i.path === 'task.model').map((i) => i.message);
    for (const layer of ['BatchNormalization', 'LSTM', 'Dropout'])
      expect(messages.join('\n')).toContain(`(${layer}) is not supported (supported: ${SUPPORTED_LAYERS.join(', ')})`);
    expect(messages.join('\n')).toMatch(/\(Conv2D\): padding same is not supported/);
    const spam = await post({ kind: 'layers', topology: fixture('keras3-mnist-cnn-functional.model.json') }, { name: 'spam' });
    expect(spam.status).toBe(400);
    expect(JSON.stringify(await spam.json())).toMatch(/task\.model/);
    expect(c.manager.activeRunId()).toBeNull();
  });

  it('is taken by the API as a run config: the Keras 2 Sequential CNN as tensorflowjs_converter writes it', async () => {
    const { c } = await startTestCoordinator();
    cleanups.push(() => c.close());
    const res = await fetch(`${c.url}/api/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.operatorToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(
        testConfig({
          rounds: 1,
          minClients: 3,
          selection: { clientsPerRound: 3 },
          task: { model: { kind: 'layers', topology: fixture('keras-mnist-cnn.model.json') } },
        }),
      ),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const { runId } = (await res.json()) as { runId: string };
    const run = await fetch(`${c.url}/api/runs/${runId}`, { headers: { authorization: `Bearer ${c.operatorToken}` } });
    // Conv2D 32 3×3 → pool → Dense 64 → softmax: the Keras model's own parameter count.
    expect(((await run.json()) as { dim: number }).dim).toBe(3 * 3 * 32 + 32 + 13 * 13 * 32 * 64 + 64 + 64 * 10 + 10);
    await c.manager.stop(runId);
  });

  it('is refused when it pads to more coordinators than the coordinator’s sockets take, saying how to allow it', async () => {
    const { c } = await startTestCoordinator(undefined, undefined, { maxModelDim: 100_000 });
    cleanups.push(() => c.close());
    const res = await fetch(`${c.url}/api/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.operatorToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(
        testConfig({
          rounds: 1,
          minClients: 3,
          selection: { clientsPerRound: 3 },
          task: { model: { kind: 'layers', topology: fixture('keras-mnist-cnn.model.json') } },
        }),
      ),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { issues: { path: string; message: string }[] };
    expect(body.issues).toEqual([
      {
        path: 'task.model',
        message: expect.stringMatching(/^347146 weights pad to 524288 coordinates; this coordinator takes at most 131072 \(start it with --max-model-dim\)$/),
      },
    ]);
    expect(c.manager.activeRunId()).toBeNull();
  });

  // Trained in full with the smaller Keras 3 Functional CNN (Conv2D 8 5×5 → pool → Dense 32): the test's budget.
  const models = [['keras3-mnist-cnn-functional.model.json', 5 * 5 * 8 + 8 + 1152 * 32 + 32 + 32 * 10 + 10]] as const;
  it.each(models)('trains: real clients run rounds of %s on MNIST and its accuracy rises well above chance', async (file, params) => {
    const { c, rounds } = await startTestCoordinator();
    const clients = await startClients(c.url, 3);
    cleanups.push(() => stopAll(c, clients));
    const res = await fetch(`${c.url}/api/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.operatorToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(
        testConfig({
          rounds: 2,
          minClients: 3,
          selection: { clientsPerRound: 3 },
          task: { model: { kind: 'layers', topology: fixture(file) }, shards: 266 },
        }),
      ),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const { runId } = (await res.json()) as { runId: string };
    await c.manager.whenIdle();
    expect(rounds.map((r) => r.status)).toEqual(['completed', 'completed']);
    const run = await fetch(`${c.url}/api/runs/${runId}`, { headers: { authorization: `Bearer ${c.operatorToken}` } });
    // The Keras model's own parameter count, from its layer sizes.
    expect(((await run.json()) as { dim: number }).dim).toBe(params);
    expect(rounds.at(-1)!.accuracy).toBeGreaterThan(0.5);
  });
});
