/**
 * The WebGPU path, in Chromium started with --enable-unsafe-webgpu (a SwiftShader adapter here): training on
 * WebGPU gives the same update as on WASM within float tolerance (the CNN included: WASM trains it without a
 * Conv2D filter-gradient kernel), and a tab with ?backend=webgpu completes a
 * full round.
 */
import { expect, test } from '@playwright/test';
import { connectNodeClient } from '@hushfl/node';
import { chromiumArgs, chromiumPath } from '../playwright.config.ts';
import { startCoordinator } from './support/coordinator.ts';
import { bundleFixture, tfjsWasmFiles } from './support/fixtureBundle.ts';
import { serveFiles } from './support/staticServer.ts';

test.use({ launchOptions: { executablePath: chromiumPath, args: [...chromiumArgs, '--enable-unsafe-webgpu'] } });

async function fixtureServer() {
  return serveFiles({
    '/index.html': '<!doctype html><script type="module" src="/train.js"></script>',
    '/train.js': await bundleFixture('train-backends.ts'),
    ...tfjsWasmFiles(),
  });
}

for (const [kind, dpsgd, mu] of [
  ['mlp', false, 0],
  ['mlp', true, 0],
  ['cnn', false, 0],
  ['cnn', true, 0],
  // FedProx (issue 15 §2): the proximal term on the GPU, plain and after DP-SGD's noise.
  ['mlp', false, 2],
  ['mlp', true, 2],
] as const) {
  test(`WebGPU training of the ${kind} gives the WASM update within float tolerance${dpsgd ? ' (DP-SGD, ghost clipping)' : ''}${mu ? ` (FedProx μ = ${mu})` : ''}`, async ({
    page,
  }) => {
    const server = await fixtureServer();
    try {
      await page.goto(server.url);
      await page.waitForFunction(() => 'trainOn' in window);
      type Out = { backend: string; delta: number[] };
      type TrainOn = { trainOn(b: string, d: boolean, k: string, mu: number): Promise<Out> };
      const gpu = await page.evaluate(([dp, k, m]) => (window as unknown as TrainOn).trainOn('webgpu', dp, k, m), [dpsgd, kind, mu] as const);
      const wasm = await page.evaluate(([dp, k, m]) => (window as unknown as TrainOn).trainOn('wasm', dp, k, m), [dpsgd, kind, mu] as const);
      expect(gpu.backend).toBe('webgpu');
      expect(wasm.backend).toBe('wasm');
      let maxErr = 0;
      let scale = 0;
      for (let i = 0; i < wasm.delta.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(gpu.delta[i]! - wasm.delta[i]!));
        scale = Math.max(scale, Math.abs(wasm.delta[i]!));
      }
      expect(scale).toBeGreaterThan(1e-4); // training moved the weights
      expect(maxErr).toBeLessThan(1e-3 * scale + 1e-6);
      if (mu) {
        // The term pulled the weights back toward the global model: the update is shorter than without it.
        const plain = await page.evaluate(([dp, k]) => (window as unknown as TrainOn).trainOn('webgpu', dp, k, 0), [dpsgd, kind] as const);
        const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
        expect(norm(gpu.delta)).toBeLessThan(norm(plain.delta) * 0.99);
      }
    } finally {
      await server.close();
    }
  });
}

test('a tab with ?backend=webgpu completes a full round', async ({ page }, info) => {
  const { c, rounds } = await startCoordinator({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 } });
  const nodes = [];
  try {
    await page.goto(`${c.url}/?backend=webgpu`);
    await expect(page.getByTestId('backend')).toHaveText('webgpu', { timeout: 30_000 });
    await expect(page.getByTestId('client-id')).toHaveText(/^[A-Za-z0-9_-]{16}$/, { timeout: 30_000 });
    nodes.push(await connectNodeClient({ url: c.url }), await connectNodeClient({ url: c.url }));
    await expect(page.getByTestId('notice')).toContainText('Round 1 completed with this tab’s update in the sum', { timeout: 120_000 });
    expect(rounds[0]).toMatchObject({ status: 'completed', contributors: 3 });
    // The GPU's update is real (a broken read-back once gave zeros and a useless model).
    expect(rounds[0]!.accuracy).toBeGreaterThan(0.3);
    await expect(page.getByTestId('local')).toContainText('%');
    const metrics = await page.evaluate(() => (window as unknown as { hushfl: { state: { metrics: { backend: string } } } }).hushfl.state.metrics);
    expect(metrics.backend).toBe('webgpu');
    await page.screenshot({ path: info.outputPath('webgpu-client.png'), fullPage: true });
  } finally {
    for (const n of nodes) await n.close();
    await c.close();
  }
});
