/**
 * A tab survives its GPU (issue 13 §5), in Chromium with --enable-unsafe-webgpu (a SwiftShader adapter here).
 * The fault is injected from the test into the training Worker (Playwright evaluates in the Worker; the page
 * has no hook for it): WebGPU's createBuffer throws as it did with ten tabs on one GPU, or WebGL's texture
 * upload throws. The round still completes with the tab's update, trained on the next backend; the page says
 * which backend failed and where training went, the new backend stays for the next rounds, and tf.memory()
 * after each training call (reported to the page only) stays flat — on WebGPU, on WebGL and after a fallback.
 */
import { expect, test, type Page, type Worker } from '@playwright/test';
import { connectNodeClient, type NodeClient } from '@hushfl/node';
import type { ModelSpec } from '@hushfl/protocol';
import { chromiumArgs, chromiumPath } from '../playwright.config.ts';
import { startCoordinator } from './support/coordinator.ts';

test.use({ launchOptions: { executablePath: chromiumPath, args: [...chromiumArgs, '--enable-unsafe-webgpu'] } });

const MODEL = { kind: 'mlp', hidden: [32] } as const satisfies ModelSpec;
/** What the training Worker holds between rounds: the model's kernels and biases, float32 — nothing else. */
const layers = [784, ...MODEL.hidden, 10];
const MODEL_TENSORS = 2 * (layers.length - 1);
const MODEL_BYTES = 4 * layers.slice(1).reduce((sum, out, i) => sum + layers[i]! * out + out, 0);

type Sample = { backend: string; numTensors: number; numBytes: number };
type PageState = {
  backend: string;
  backendSwitch: string | null;
  tfMemory: Sample[];
  metrics: { backend: string; rounds: { status: string; included?: boolean }[] } | null;
};
const state = (page: Page) => page.evaluate(() => (window as unknown as { hushfl: { state: PageState } }).hushfl.state);

/** The page's training Worker, once the page has started it. */
function trainWorker(page: Page): Promise<Worker> {
  const found = page.workers().find((w) => w.url().includes('train.worker'));
  if (found) return Promise.resolve(found);
  return new Promise((resolve) => {
    const on = (w: Worker) => {
      if (!w.url().includes('train.worker')) return;
      page.off('worker', on);
      resolve(w);
    };
    page.on('worker', on);
  });
}

/** In the Worker: every buffer created mapped (tfjs uploads tensor data so) fails, with the message Chromium gave. */
const breakWebGpuUploads = () => {
  const proto = (globalThis as unknown as { GPUDevice: { prototype: { createBuffer(d: { size: number; mappedAtCreation?: boolean }): unknown } } }).GPUDevice
    .prototype;
  const create = proto.createBuffer;
  proto.createBuffer = function (desc) {
    if (desc.mappedAtCreation) {
      throw new RangeError(
        `Failed to execute 'createBuffer' on 'GPUDevice': createBuffer failed, size (${desc.size}) is too large for the implementation when mappedAtCreation == true`,
      );
    }
    return create.call(this, desc);
  };
};

/** In the Worker: WebGL2 texture uploads (tfjs's for tensor data) fail as on a lost context. */
const breakWebGlUploads = () => {
  const proto = (globalThis as unknown as { WebGL2RenderingContext: { prototype: { texSubImage2D(...a: unknown[]): void } } }).WebGL2RenderingContext.prototype;
  proto.texSubImage2D = () => {
    throw new Error('texSubImage2D: the WebGL context was lost');
  };
};

async function startTab(page: Page, backend: string, rounds: number) {
  const { c, rounds: done } = await startCoordinator({
    rounds,
    minClients: 3,
    selection: { clientsPerRound: 3 },
    task: { shards: 200, model: MODEL },
    training: { epochs: 1, batchSize: 32, learningRate: 0.1 },
  });
  const worker = trainWorker(page);
  await page.goto(`${c.url}/?backend=${backend}`);
  await expect(page.getByTestId('backend')).toHaveText(backend, { timeout: 30_000 });
  await expect(page.getByTestId('client-id')).toHaveText(/^[A-Za-z0-9_-]{16}$/, { timeout: 30_000 });
  return { c, done, worker: await worker };
}

/** Every training call left the model and nothing else: the same tensors and bytes, round after round. */
function expectFlat(samples: Sample[], count: number, backend: string) {
  expect(samples).toHaveLength(count);
  for (const s of samples) expect(s).toEqual({ backend, numTensors: MODEL_TENSORS, numBytes: MODEL_BYTES });
}

test('WebGPU fails in training (createBuffer): the round completes on WebGL, the page shows the switch, WebGL stays; memory flat', async ({ page }, info) => {
  const { c, done, worker } = await startTab(page, 'webgpu', 3);
  const nodes: NodeClient[] = [];
  try {
    await worker.evaluate(breakWebGpuUploads);
    nodes.push(await connectNodeClient({ url: c.url }), await connectNodeClient({ url: c.url }));
    await expect(page.getByTestId('backend-switch')).toHaveText(
      /^WebGPU failed \(Failed to execute 'createBuffer' on 'GPUDevice': createBuffer failed, size \(\d+\) is too large .*\): switched to WebGL$/,
      { timeout: 60_000 },
    );
    await expect(page.getByTestId('backend')).toHaveText('webgl');
    await expect(page.getByTestId('notice')).toContainText('Round 3 completed with this tab’s update in the sum', { timeout: 150_000 });
    expect(done.map((r) => [r.status, r.contributors])).toEqual([
      ['completed', 3],
      ['completed', 3],
      ['completed', 3],
    ]);
    const s = await state(page);
    // One switch, in round 1; rounds 2 and 3 trained on WebGL without failing again.
    expect(s.backendSwitch).not.toContain(';');
    expect(s.metrics?.backend).toBe('webgl');
    expect(s.metrics?.rounds.map((r) => [r.status, r.included])).toEqual([
      ['completed', true],
      ['completed', true],
      ['completed', true],
    ]);
    // Round 1's sample follows its failed WebGPU attempt and the retry: nothing of the failure stayed behind.
    expectFlat(s.tfMemory, 3, 'webgl');
    await page.screenshot({ path: info.outputPath('gpu-fallback.png'), fullPage: true });
  } finally {
    for (const n of nodes) await n.close();
    await c.close();
  }
});

test('tensors stay flat over rounds on WebGPU', async ({ page }) => {
  const { c, done } = await startTab(page, 'webgpu', 3);
  const nodes: NodeClient[] = [];
  try {
    nodes.push(await connectNodeClient({ url: c.url }), await connectNodeClient({ url: c.url }));
    await expect(page.getByTestId('notice')).toContainText('Round 3 completed with this tab’s update in the sum', { timeout: 150_000 });
    expect(done.filter((r) => r.status === 'completed' && r.contributors === 3)).toHaveLength(3);
    const s = await state(page);
    expect(s.backendSwitch).toBeNull();
    expectFlat(s.tfMemory, 3, 'webgpu');
    await expect(page.getByTestId('tf-memory')).toHaveText(`${MODEL_TENSORS} tensors, ${(MODEL_BYTES / 1024).toFixed(1)} KiB`);
  } finally {
    for (const n of nodes) await n.close();
    await c.close();
  }
});

test('WebGL fails in training (a lost context): the round completes on WASM, threaded', async ({ page }) => {
  const { c, done, worker } = await startTab(page, 'webgl', 1);
  const nodes: NodeClient[] = [];
  try {
    await worker.evaluate(breakWebGlUploads);
    nodes.push(await connectNodeClient({ url: c.url }), await connectNodeClient({ url: c.url }));
    await expect(page.getByTestId('notice')).toContainText('Round 1 completed with this tab’s update in the sum', { timeout: 120_000 });
    await expect(page.getByTestId('backend-switch')).toHaveText('WebGL failed (texSubImage2D: the WebGL context was lost): switched to WASM');
    await expect(page.getByTestId('backend')).toHaveText('wasm');
    await expect(page.getByTestId('wasm-build')).toHaveText('threaded SIMD');
    expect(done.map((r) => [r.status, r.contributors])).toEqual([['completed', 3]]);
    const s = await state(page);
    expect(s.metrics?.backend).toBe('wasm');
    expectFlat(s.tfMemory, 1, 'wasm');
  } finally {
    for (const n of nodes) await n.close();
    await c.close();
  }
});
