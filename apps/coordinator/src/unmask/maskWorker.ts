/** One unmasking worker thread: computes the masks' total over the coordinate range it is sent (maskSlice). */
import { parentPort } from 'node:worker_threads';
import { type MaskTerm, maskSlice } from '@hushfl/secagg';
import type { SliceJob, SliceResult } from './maskPool.ts';

parentPort!.on('message', async (job: SliceJob) => {
  try {
    const terms: MaskTerm[] = [];
    for (let i = 0; i < job.signs.length; i++) terms.push({ seed: job.seeds.subarray(32 * i, 32 * i + 32), sign: job.signs[i] === 1 ? 1 : -1 });
    const slice = await maskSlice(terms, job.start, job.count, job.bits);
    parentPort!.postMessage({ id: job.id, slice } satisfies SliceResult, [slice.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: (e as Error).message } satisfies SliceResult);
  }
});
