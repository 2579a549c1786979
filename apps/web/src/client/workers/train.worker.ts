/// <reference lib="webworker" />
/**
 * The training Worker: TensorFlow.js on the best backend this browser offers, the tab's shards from
 * IndexedDB, and local training (with DP-SGD when configured) for each mini-client. Updates go straight to the
 * client Worker over a MessageChannel, transferred, never through the page.
 */
import { LocalTrainer } from '@hushfl/client';
import { decodeShard } from '@hushfl/tasks';
import { selectBackend } from '../backends.ts';
import { store } from '../store.ts';
import type { FromTrainWorker, ToTrainWorker, TrainCall, TrainReply } from './messages.ts';

declare const self: DedicatedWorkerGlobalScope;

let backend = 'cpu';
let trainer: LocalTrainer | null = null;
const post = (m: FromTrainWorker) => self.postMessage(m);

self.onmessage = async (e: MessageEvent<ToTrainWorker>) => {
  const m = e.data;
  try {
    if (m.type === 'backend') {
      const selected = await selectBackend(m.forced);
      backend = selected.name;
      post({ type: 'backend', backend, threaded: selected.threaded });
    } else if (m.type === 'shards') {
      const datasets = [];
      for (const i of m.indices) {
        const bytes = await store.shard(i);
        if (!bytes) throw new Error(`shard ${i} is not in IndexedDB`);
        datasets.push(decodeShard(bytes));
      }
      trainer?.dispose();
      trainer = new LocalTrainer(datasets, backend);
      post({ type: 'shards', examples: datasets.map((d) => d.n) });
    } else if (m.type === 'port') {
      m.port.onmessage = (ev: MessageEvent<TrainCall>) => void train(m.port, ev.data);
    }
  } catch (err) {
    post({ type: 'error', message: (err as Error).message });
  }
};

async function train(port: MessagePort, call: TrainCall): Promise<void> {
  const reply = (r: TrainReply, transfer: Transferable[] = []) => port.postMessage(r, transfer);
  try {
    if (!trainer) throw new Error('the training worker has no data yet');
    const output = await trainer.train(call.req, (progress) => reply({ type: 'progress', id: call.id, progress }));
    reply({ type: 'done', id: call.id, output }, [output.delta.buffer]);
  } catch (err) {
    reply({ type: 'failed', id: call.id, message: (err as Error).message });
  }
}
