/**
 * packages/ddp runs unchanged in a browser Web Worker and derives exactly what Node derives from the same
 * seeds: the rotation's signs, the ChaCha-keyed rounding and the exact sampler's noise.
 */
import { expect, test } from '@playwright/test';
import { chachaRandomWords, encodeDdg, type DdgParams } from '@hushfl/ddp';
import { bundleFixture } from './support/fixtureBundle.ts';
import { serveFiles, type StaticServer } from './support/staticServer.ts';

let server: StaticServer;

test.beforeAll(async () => {
  server = await serveFiles({
    '/index.html': '<!doctype html><title>ddp worker</title>',
    '/worker.js': await bundleFixture('ddp-worker.ts'),
  });
});

test.afterAll(async () => server?.close());

test('a browser Worker encodes bit-for-bit like Node and samples N_Z exactly', async ({ page }) => {
  const d = 3000;
  const update = Array.from({ length: d }, (_, i) => Math.sin(i * 0.1) * 0.05);
  const params: DdgParams = { dim: d, clip: 1, gamma: 1e-3, beta: Math.exp(-0.5), bits: 16, localStddev: 0.2 };
  const rotationSeed = Array.from({ length: 32 }, (_, i) => (i * 7 + 1) & 255);
  const rngSeed = Array.from({ length: 32 }, (_, i) => (i * 13 + 5) & 255);
  const sigma2 = '400/3';

  await page.goto(server.url);
  const fromBrowser = await page.evaluate(
    (req) =>
      new Promise<{ encoded: number[]; meanSquare: number }>((resolve, reject) => {
        const w = new Worker('/worker.js', { type: 'module' });
        w.onmessage = (e) => resolve(e.data);
        w.onerror = (e) => reject(new Error(e.message));
        w.postMessage(req);
      }),
    { update, params, rotationSeed, rngSeed, sigma2, samples: 200_000 },
  );

  const inNode = encodeDdg(Float64Array.from(update), params, Uint8Array.from(rotationSeed), { rng: chachaRandomWords(Uint8Array.from(rngSeed)) });
  expect(fromBrowser.encoded).toEqual(Array.from(inNode.encoded));
  // E[x²] of N_Z(0, 400/3) equals 400/3 to far below the sampling error here; 5 standard errors.
  const variance = 400 / 3;
  expect(Math.abs(fromBrowser.meanSquare - variance)).toBeLessThan(5 * Math.sqrt((2 * variance * variance) / 200_000));
});
