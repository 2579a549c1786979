/**
 * One sampler measurement in a worker thread of its own (samplerRun.mjs): N_Z(0, σ²) for the σ it is sent, n
 * samples a repeat, the median of its repeats in ms. A client samples at one σ a process; a σ measured after
 * others in the same isolate runs on code V8 optimized for their branches too.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { medianMs } from '../../../bench/lib.ts';
import { DiscreteGaussianSampler, cryptoRandomWords, rationalAtLeast } from '../src/index.ts';

const { sigma, n } = workerData as { sigma: number; n: number };
const sampler = new DiscreteGaussianSampler(rationalAtLeast(sigma * sigma), cryptoRandomWords());
const ms = await medianMs(
  () => {
    let acc = 0;
    for (let i = 0; i < n; i++) acc += sampler.sample();
    return acc;
  },
  5,
  1,
);
parentPort!.postMessage(ms);
