/// <reference lib="webworker" />
/**
 * The training Worker: TensorFlow.js on the best backend this browser offers, the tab's shards (demo shards
 * or the person's own examples, handed over by the page), and local training (with DP-SGD when configured) for each mini-client. Updates go straight to the
 * client Worker over a MessageChannel, transferred, never through the page. When training fails on WebGPU or
 * WebGL it moves to the next backend, rebuilds the model from the round's weights and trains again while the
 * deadline allows (issue 13 §5, @hushfl/client's backendFallback.ts); the page is told, and the new backend stays.
 */
import { type BackendSwitch, LocalTrainer, trainWithFallback } from '@hushfl/client';
import type { BackendName } from '@hushfl/protocol';
import { decodeShard, type Dataset } from '@hushfl/tasks';
import * as tf from '@tensorflow/tfjs-core';
import { dropBackend, selectBackend, startBackend } from '../backends.ts';
import type { FromTrainWorker, ToTrainWorker, TrainCall, TrainReply } from './messages.ts';

declare const self: DedicatedWorkerGlobalScope;

let backend = 'cpu';
let threaded = false;
/** Where the WASM backend's .wasm files are served (from the page); kept for a later fallback to WASM. */
let wasmPath = '';
let datasets: Dataset[] = [];
let trainer: LocalTrainer | null = null;
const post = (m: FromTrainWorker) => self.postMessage(m);

self.onmessage = async (e: MessageEvent<ToTrainWorker>) => {
  const m = e.data;
  try {
    if (m.type === 'backend') {
      wasmPath = m.wasmPath;
      const selected = await selectBackend(m.forced, wasmPath);
      backend = selected.name;
      threaded = selected.threaded;
      post({ type: 'backend', backend, threaded });
    } else if (m.type === 'shards') {
      // The shards themselves (demo shards, or the person's own examples): decoded and checked here, off the page.
      // The old data goes first: shards that fail to decode leave none, never the previous task's.
      trainer?.dispose();
      trainer = null;
      datasets = [];
      datasets = m.shards.map((bytes) => decodeShard(bytes));
      post({ type: 'shards', examples: datasets.map((d) => d.n) });
    } else if (m.type === 'port') {
      m.port.onmessage = (ev: MessageEvent<TrainCall>) => void train(m.port, ev.data);
    }
  } catch (err) {
    post({ type: 'error', message: (err as Error).message });
  }
};

/** The trainer on the current backend; after a switch, a new one (the data are plain arrays, the model is rebuilt). */
function currentTrainer(): LocalTrainer {
  if (!datasets.length) throw new Error('the training worker has no data yet');
  trainer ??= new LocalTrainer(datasets, backend);
  return trainer;
}

async function switchBackend(to: BackendName, failed: string): Promise<boolean> {
  // The model's variables live on the failed backend: freed there before tfjs drops it.
  try {
    trainer?.dispose();
  } catch {
    // a lost device may refuse; its buffers go with the backend
  }
  trainer = null;
  dropBackend(failed);
  const started = await startBackend(to, wasmPath);
  if (!started) return false;
  backend = started.name;
  threaded = started.threaded;
  return true;
}

async function train(port: MessagePort, call: TrainCall): Promise<void> {
  const reply = (r: TrainReply, transfer: Transferable[] = []) => port.postMessage(r, transfer);
  try {
    const output = await trainWithFallback(call.req.deadline, {
      backend: () => backend,
      attempt: () => currentTrainer().train(call.req, (progress) => reply({ type: 'progress', id: call.id, progress })),
      switchTo: switchBackend,
      onSwitch: (change: BackendSwitch) => post({ type: 'backend-switch', change, threaded }),
    });
    reply({ type: 'done', id: call.id, output, backend }, [output.delta.buffer]);
  } catch (err) {
    reply({ type: 'failed', id: call.id, message: (err as Error).message });
  } finally {
    const mem = tf.memory();
    post({ type: 'memory', backend, numTensors: mem.numTensors, numBytes: mem.numBytes });
  }
}
