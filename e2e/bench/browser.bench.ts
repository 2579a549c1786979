/**
 * `pnpm bench browser` (issue 18 §3): the client's heavy work in a dedicated Worker of real Chromium (Debian's,
 * through playwright-core), as the client page runs it: the whole DDG encoding (clip, rotate, round, noise,
 * mod) at d ∈ {2^16, 2^20}, the exact sampler at three grid σ, and a SecAgg+ round's mean client time per
 * stage (all parties in the Worker, so the per-client figures are one thread's share), one client's masked input
 * alone at d ∈ {2^16, 2^20} (k neighbours for n = 100); and on the page, a local
 * training step of the example model (MNIST MLP, batch 16, plain and DP-SGD) on each TensorFlow.js backend it
 * has (WebGPU on SwiftShader here, started with --enable-unsafe-webgpu; WebGL on SwiftShader; WASM; CPU). Target: encode of 2^20
 * coordinates ≤ 300 ms in the Worker. bench/run.ts pins the browser to core 0 like the Node client suites.
 */
import { chromium } from 'playwright-core';
import { figure, median, type Figure } from '../../bench/lib.ts';
import { chromiumArgs, chromiumPath } from '../../playwright.config.ts';
import type { BenchRequest, BenchResult } from '../fixtures/bench-worker.ts';
import { bundleFixture, tfjsWasmFiles } from '../support/fixtureBundle.ts';
import { serveFiles } from '../support/staticServer.ts';

/** Fresh Workers per encode d and sampler σ (their median). */
const ISOLATED_RUNS = 3;

export async function benchBrowser(options: { quick?: boolean } = {}): Promise<Figure[]> {
  const files: Record<string, string | Buffer> = {
    '/index.html': '<!doctype html><title>hushfl browser bench</title><script type="module" src="/train.js"></script>',
    '/worker.js': await bundleFixture('bench-worker.ts'),
    '/train.js': await bundleFixture('bench-train.ts'),
    ...tfjsWasmFiles(),
  };
  const server = await serveFiles(files);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: [...chromiumArgs, '--enable-unsafe-webgpu'], headless: true });
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    // One fresh Worker per request, as a page starts one: the encode at each d and the sampler at each σ get
    // ISOLATED_RUNS Workers of their own (their median), since V8 settles their hot loops differently from one
    // isolate to the next and after other σ or d; SecAgg's round and the masking one Worker.
    const inWorker = async (req: BenchRequest): Promise<BenchResult> => {
      const reply = await page.evaluate(
        (r) =>
          new Promise<{ ok: boolean; result?: BenchResult; error?: string }>((resolve) => {
            const w = new Worker('/worker.js', { type: 'module' });
            w.onmessage = (e) => {
              resolve(e.data);
              w.terminate();
            };
            w.onerror = (e) => resolve({ ok: false, error: e.message });
            w.postMessage(r);
          }),
        req,
      );
      if (!reply.ok || !reply.result) throw new Error(`browser bench worker failed: ${reply.error}`);
      return reply.result;
    };
    const repeats = options.quick ? 3 : 5;
    const none: BenchRequest = { encodeDims: [], sigmas: [], secagg: [], masking: { n: 100, dims: [], dropout: 0.1 }, repeats };
    const runs = options.quick ? 1 : ISOLATED_RUNS;
    const r: BenchResult = { encode: [], sampler: [], secagg: [], masking: [] };
    for (const d of options.quick ? [2 ** 16] : [2 ** 16, 2 ** 20]) {
      const ms: number[] = [];
      for (let i = 0; i < runs; i++) ms.push((await inWorker({ ...none, encodeDims: [d] })).encode[0]!.ms);
      r.encode.push({ d, ms: median(ms) });
    }
    for (const sigma of options.quick ? [1000] : [1, 1000, 2 ** 20]) {
      const ns: number[] = [];
      for (let i = 0; i < runs; i++) ns.push((await inWorker({ ...none, sigmas: [sigma] })).sampler[0]!.nsPerSample);
      r.sampler.push({ sigma, nsPerSample: median(ns) });
    }
    const rest = await inWorker({
      ...none,
      secagg: [{ n: 100, dim: 2 ** 16, dropout: 0.1 }],
      masking: { n: 100, dims: options.quick ? [2 ** 16] : [2 ** 16, 2 ** 20], dropout: 0.1 },
    });
    r.secagg.push(...rest.secagg);
    r.masking.push(...rest.masking);
    const version = browser.version();
    const figures: Figure[] = [];
    for (const e of r.encode) {
      figures.push(
        figure({
          name: 'browser-encode-ddg',
          inputs: { d: e.d, gridStddev: 1000, bits: 16, chromium: version },
          value: e.ms,
          unit: 'ms',
          ...(e.d === 2 ** 20 ? { target: { op: '<=', value: 300 } } : {}),
        }),
      );
    }
    for (const s of r.sampler) {
      figures.push(
        figure({ name: 'browser-dgauss-sampler-throughput', inputs: { sigma: s.sigma, chromium: version }, value: 1000 / s.nsPerSample, unit: 'M samples/s' }),
      );
    }
    for (const s of r.secagg) {
      const inputs = { n: s.n, d: s.d, dropout: s.dropout, k: s.k, t: s.t, chromium: version };
      for (const [stage, ms] of Object.entries(s.clientMs)) figures.push(figure({ name: `browser-secagg-client-${stage}`, inputs, value: ms, unit: 'ms' }));
      figures.push(figure({ name: 'browser-secagg-server-unmask', inputs, value: s.serverUnmaskMs, unit: 'ms' }));
    }
    for (const m of r.masking) {
      figures.push(
        figure({ name: 'browser-secagg-client-masking', inputs: { n: m.n, d: m.d, dropout: m.dropout, k: m.k, chromium: version }, value: m.ms, unit: 'ms' }),
      );
    }
    await page.waitForFunction(() => 'timeTraining' in window);
    type Timed = { backend: string; msPerStep?: number; error?: string };
    for (const backend of options.quick ? ['wasm'] : ['webgpu', 'webgl', 'wasm', 'cpu']) {
      for (const dpsgd of [false, true]) {
        const t = await page.evaluate(
          ([b, dp]) => (window as unknown as { timeTraining(b: string, dp: boolean): Promise<Timed> }).timeTraining(b as string, dp as boolean),
          [backend, dpsgd] as const,
        );
        if (t.msPerStep === undefined || t.backend !== backend) {
          process.stderr.write(`  browser: training on ${backend}: ${t.error ?? `fell back to ${t.backend}`}, no figure\n`);
          continue;
        }
        figures.push(
          figure({ name: 'browser-train-step', inputs: { backend, model: 'mlp-64', batch: 16, dpsgd, chromium: version }, value: t.msPerStep, unit: 'ms' }),
        );
      }
    }
    process.stderr.write(`  browser: encode ${r.encode.map((e) => `${e.d}: ${e.ms.toFixed(0)} ms`).join(', ')}\n`);
    return figures;
  } finally {
    await browser.close();
    await server.close();
  }
}
