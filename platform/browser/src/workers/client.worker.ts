/// <reference lib="webworker" />
/** Worker glue for ClientWorkerLogic: DDG encoding and SecAgg off the page's main thread. */
import { store } from '../store.ts';
import { ClientWorkerLogic } from './clientWorker.ts';
import type { FromClientWorker, ToClientWorker } from './messages.ts';
import { RemoteTrainer } from './remoteTrainer.ts';

declare const self: DedicatedWorkerGlobalScope;

const logic = new ClientWorkerLogic((m: FromClientWorker, transfer: Transferable[] = []) => self.postMessage(m, transfer), store);
// Messages are handled one at a time, in order (a SecAgg step must finish before the next message).
let chain: Promise<void> = Promise.resolve();

self.onmessage = (e: MessageEvent<ToClientWorker>) => {
  const m = e.data;
  chain = chain
    .then(async () => {
      if (m.type === 'init') await logic.init(new RemoteTrainer(m.trainer, m.miniClients, m.backend));
      else if (m.type === 'task') {
        // Training can take a while: do not hold the queue, so SecAgg messages of the round can be buffered.
        void logic.onTask(m.packed);
      } else if (m.type === 'secagg') await logic.onSecAgg(m.packed);
      else if (m.type === 'round-end') logic.onRoundEnd(m.payload);
      else if (m.type === 'import-identity') await logic.importIdentity(m.text);
    })
    .catch((err: Error) => self.postMessage({ type: 'error', message: err.message } satisfies FromClientWorker));
};
