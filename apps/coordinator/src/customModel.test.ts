/**
 * Custom models (issue 14 §4): a Keras model converted to a TensorFlow.js layers model.json is part of the run
 * config the API takes, checked against the task and the supported layers, and trained by real clients.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FEDERATED_METRICS, nextPowerOfTwo } from '@hushfl/ddp';
import type { RunConfigInput } from '@hushfl/protocol';
import { SUPPORTED_LAYERS, parseModelJson } from '@hushfl/tasks';
import { afterEach, describe, expect, it } from 'vitest';
import type { Coordinator } from './app.ts';
import { startClients, startTestCoordinator, stopAll, testConfig } from './testing.ts';

type TaskInput = NonNullable<RunConfigInput['task']>;

const fixture = (name: string) => parseModelJson(readFileSync(fileURLToPath(import.meta.resolve(`@hushfl/tasks/fixtures/${name}`)), 'utf8')).topology;
const layers = (file: string) => ({ kind: 'layers' as const, topology: fixture(file) });

/** The Keras 2 Sequential CNN (Conv2D 32 3×3 → 2×2 pool → Dense 64 → Dense 10): its own parameter count. */
const KERAS2_PARAMS = 3 * 3 * 32 + 32 + 13 * 13 * 32 * 64 + 64 + 64 * 10 + 10;
/** The Keras 3 Functional CNN (Conv2D 8 5×5 → 2×2 pool → Dense 32 → Dense 10). */
const KERAS3_PARAMS = 5 * 5 * 8 + 8 + 12 * 12 * 8 * 32 + 32 + 32 * 10 + 10;

/** POST /api/runs with a three-client config of `rounds` and this task. */
function postRun(c: Coordinator, task: TaskInput, rounds = 1) {
  return fetch(`${c.url}/api/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.operatorToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(testConfig({ rounds, minClients: 3, selection: { clientsPerRound: 3 }, task })),
  });
}

async function runDim(c: Coordinator, runId: string): Promise<number> {
  const run = await fetch(`${c.url}/api/runs/${runId}`, { headers: { authorization: `Bearer ${c.operatorToken}` } });
  return ((await run.json()) as { dim: number }).dim;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

describe('a Keras-converted model.json', () => {
  it('is refused by the API, each unsupported layer named with the supported list, or for the wrong classes', async () => {
    const { c } = await startTestCoordinator();
    cleanups.push(() => c.close());
    const bad = await postRun(c, { model: layers('keras-unsupported-layers.model.json') });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { issues: { path: string; message: string }[] };
    const messages = body.issues.filter((i) => i.path === 'task.model').map((i) => i.message);
    for (const layer of ['BatchNormalization', 'LSTM', 'Dropout'])
      expect(messages.join('\n')).toContain(`(${layer}) is not supported (supported: ${SUPPORTED_LAYERS.join(', ')})`);
    expect(messages.join('\n')).toMatch(/\(Conv2D\): padding same is not supported/);
    const spam = await postRun(c, { model: layers('keras3-mnist-cnn-functional.model.json'), name: 'spam' });
    expect(spam.status).toBe(400);
    expect(JSON.stringify(await spam.json())).toMatch(/task\.model/);
    expect(c.manager.activeRunId()).toBeNull();
  });

  it('is taken by the API as a run config: the Keras 2 Sequential CNN as tensorflowjs_converter writes it', async () => {
    const { c } = await startTestCoordinator();
    cleanups.push(() => c.close());
    const res = await postRun(c, { model: layers('keras-mnist-cnn.model.json') });
    expect(res.status, await res.clone().text()).toBe(201);
    const { runId } = (await res.json()) as { runId: string };
    expect(await runDim(c, runId)).toBe(KERAS2_PARAMS);
    await c.manager.stop(runId);
  });

  it('is refused when it pads to more coordinates than the coordinator’s sockets take, saying how to allow it', async () => {
    const maxModelDim = 100_000;
    const { c } = await startTestCoordinator(undefined, undefined, { maxModelDim });
    cleanups.push(() => c.close());
    const res = await postRun(c, { model: layers('keras-mnist-cnn.model.json') });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { issues: { path: string; message: string }[] };
    // d plus the federated-evaluation coordinates, padded to a power of two, against the padded limit.
    const padded = nextPowerOfTwo(KERAS2_PARAMS + FEDERATED_METRICS);
    expect(body.issues).toEqual([
      {
        path: 'task.model',
        message: `${KERAS2_PARAMS} weights pad to ${padded} coordinates; this coordinator takes at most ${nextPowerOfTwo(maxModelDim)} (start it with --max-model-dim)`,
      },
    ]);
    expect(c.manager.activeRunId()).toBeNull();
  });

  // Trained in full with the smaller Keras 3 Functional CNN: the test's budget.
  it('trains: real clients run rounds of the Keras 3 CNN on MNIST and its accuracy rises well above chance', async () => {
    const { c, rounds } = await startTestCoordinator();
    const clients = await startClients(c.url, 3);
    cleanups.push(() => stopAll(c, clients));
    const res = await postRun(c, { model: layers('keras3-mnist-cnn-functional.model.json'), shards: 266 }, 2);
    expect(res.status, await res.clone().text()).toBe(201);
    const { runId } = (await res.json()) as { runId: string };
    await c.manager.whenIdle();
    expect(rounds.map((r) => r.status)).toEqual(['completed', 'completed']);
    expect(await runDim(c, runId)).toBe(KERAS3_PARAMS);
    expect(rounds.at(-1)!.accuracy).toBeGreaterThan(0.5);
  });
});
