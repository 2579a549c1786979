/**
 * The browser bench suite (`pnpm bench browser`, e2e/bench/browser.bench.ts) at its quick size: it runs in real
 * Chromium and returns every figure it promises, each a real measurement.
 */
import { expect, test } from '@playwright/test';
import { chooseSecAggParams } from '@hushfl/secagg';
import { benchBrowser } from './bench/browser.bench.ts';

test('pnpm bench browser times the encoding, the sampler and the SecAgg stages inside a Worker, and training on the page', async () => {
  const figures = await benchBrowser({ quick: true });
  const named = (name: string) => figures.filter((f) => f.name === name);
  const encode = named('browser-encode-ddg');
  expect(encode.map((f) => f.inputs.d)).toEqual([2 ** 16]);
  // Some milliseconds for 65 536 coordinates: a clip, a rotation, rounding and 65 536 exact samples.
  expect(encode[0]!.value).toBeGreaterThan(0.5);
  expect(encode[0]!.value).toBeLessThan(5000);
  expect(encode[0]!.inputs.chromium).toMatch(/^\d+\./);
  const sampler = named('browser-dgauss-sampler-throughput');
  expect(sampler).toHaveLength(1);
  expect(sampler[0]!.value).toBeGreaterThan(0.2);
  for (const stage of ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking']) {
    const f = named(`browser-secagg-client-${stage}`);
    expect(f, stage).toHaveLength(1);
    expect(f[0]!.value).toBeGreaterThan(0);
  }
  // Masking (84 pairwise AES-CTR masks of 2^16 words) costs more than advertising two public keys.
  expect(named('browser-secagg-client-masked-input')[0]!.value).toBeGreaterThan(named('browser-secagg-client-advertise-keys')[0]!.value);
  expect(named('browser-secagg-server-unmask')[0]!.value).toBeGreaterThan(0);
  // One client's masked input alone (its k seeds, k + 1 masks, packing): at 2^16 in the quick size.
  const masking = named('browser-secagg-client-masking');
  expect(masking.map((f) => [f.inputs.d, f.inputs.k])).toEqual([[2 ** 16, chooseSecAggParams(100, { dropoutRate: 0.1 }).neighbours]]);
  expect(masking[0]!.value).toBeGreaterThan(named('browser-secagg-client-advertise-keys')[0]!.value);
  // A training step of the example model on the page's WASM backend, plain and DP-SGD.
  const steps = named('browser-train-step');
  expect(steps.map((f) => [f.inputs.backend, f.inputs.dpsgd])).toEqual([
    ['wasm', false],
    ['wasm', true],
  ]);
  for (const f of steps) expect(f.value).toBeGreaterThan(0);
});
