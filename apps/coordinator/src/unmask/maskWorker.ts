/** One unmasking worker thread: computes the masks' total over the coordinate range it is sent (nodeMaskSlice). */
import { parentPort } from 'node:worker_threads';
import { type SliceJob, type SliceResult, unpackTerms } from './maskPool.ts';
import { nodeMaskSlice } from './nodeMaskSlice.ts';

parentPort!.on('message', async (job: SliceJob) => {
  try {
    const slice = await nodeMaskSlice(unpackTerms(job.seeds, job.signs), job.start, job.count, job.bits);
    parentPort!.postMessage({ id: job.id, slice } satisfies SliceResult, [slice.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: (e as Error).message } satisfies SliceResult);
  }
});
