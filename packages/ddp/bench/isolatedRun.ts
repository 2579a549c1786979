/**
 * One measurement in a worker thread of its own (isolatedRun.mjs): the exact sampler at one σ (n samples a
 * repeat), or the whole DDG encode at one d, as the median ms of its repeats. A client samples at one σ and
 * encodes one model's d in its process; measured after other σ or d in the same isolate, the same code runs on
 * what V8 optimized for those too (encode at 2^20 after 2^16 ran slower).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { medianMs } from '../../../bench/lib.ts';
import { DiscreteGaussianSampler, cryptoRandomWords, encodeDdg, randomSeed, rationalAtLeast } from '../src/index.ts';
import { encodeBenchParams } from './encodeParams.ts';

export type IsolatedRun = { kind: 'sampler'; sigma: number; n: number } | { kind: 'encode'; d: number };

const run = workerData as IsolatedRun;
const rng = cryptoRandomWords();
let ms: number;
if (run.kind === 'sampler') {
  const sampler = new DiscreteGaussianSampler(rationalAtLeast(run.sigma * run.sigma), rng);
  ms = await medianMs(
    () => {
      let acc = 0;
      for (let i = 0; i < run.n; i++) acc += sampler.sample();
      return acc;
    },
    5,
    1,
  );
} else {
  const d = run.d;
  const update = Float32Array.from({ length: d }, (_, i) => Math.cos(i * 0.37) * 0.01);
  const params = encodeBenchParams(d);
  const seed = randomSeed();
  const scratch = new Float64Array(d);
  const out = new Uint32Array(d);
  ms = await medianMs(() => encodeDdg(update, params, seed, { rng, scratch, out }), 5, 1);
}
parentPort!.postMessage(ms);
