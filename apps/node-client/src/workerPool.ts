/**
 * N Node clients spread over worker threads (clientWorker.ts), for `hushfl simulate` and the
 * `hushfl-node-client` program. Each thread's messages (ready, clipped updates, dropouts, metrics, logs) go to
 * `onMessage`.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { PkiClientOptions } from '@hushfl/secagg';
import type { WorkerInput, WorkerMessage } from './clientWorker.ts';

export interface ClientPoolOptions {
  readonly url: string;
  readonly clients: number;
  readonly miniClients: number;
  /** Probability that a client vanishes from a round, at a uniformly chosen drop point. */
  readonly dropout: number;
  /** Worker threads (at most one per client); default: the available parallelism. */
  readonly workers?: number;
  /** Accept a self-signed TLS certificate (an https:// coordinator in tests). */
  readonly insecureTls?: boolean;
  /** PKI mode: one enrolled identity, so `clients` must be 1 (each client needs its own certificate). */
  readonly pki?: Omit<PkiClientOptions, 'now'>;
  /** Single-use join codes (`hushfl invite`), one per client, for a coordinator with enrollment. */
  readonly joinCodes?: readonly string[];
  /** Post each round's clipped updates to `onMessage` (default true: the simulator measures the DDG error). */
  readonly reportClipped?: boolean;
  /** The clients' name prefix (default `sim`). */
  readonly namePrefix?: string;
  /** Load-generator clients: synthetic updates, no training, no data (`hushfl loadtest`). */
  readonly synthetic?: boolean;
}

export interface ClientPool {
  /** Resolves once every client has joined; rejects on the first worker that fails. */
  readonly ready: Promise<void>;
  /** Asks every thread for its clients' metrics (they arrive as `metrics` messages), then stops it; a thread still running after 10 s is terminated. */
  stop(): Promise<void>;
}

export function startClientPool(o: ClientPoolOptions, onMessage: (m: WorkerMessage) => void = () => {}): ClientPool {
  if (o.pki && o.clients !== 1) throw new RangeError(`one enrolled identity runs one client, not ${o.clients}: each client needs its own certificate`);
  if (o.joinCodes && o.joinCodes.length !== o.clients)
    throw new RangeError(`${o.joinCodes.length} join code(s) for ${o.clients} client(s): each client needs its own`);
  const count = Math.min(o.clients, o.workers ?? Math.max(1, availableParallelism()));
  const workers: Worker[] = [];
  const ready: Promise<void>[] = [];
  let first = 0;
  for (let w = 0; w < count; w++) {
    const clients = Math.floor(((w + 1) * o.clients) / count) - Math.floor((w * o.clients) / count);
    const data: WorkerInput = {
      url: o.url,
      clients,
      firstIndex: first,
      miniClients: o.miniClients,
      dropout: o.dropout,
      insecureTls: Boolean(o.insecureTls),
      ...(o.pki ? { pki: o.pki } : {}),
      ...(o.joinCodes ? { joinCodes: o.joinCodes.slice(first, first + clients) } : {}),
      ...(o.reportClipped === false ? { reportClipped: false } : {}),
      ...(o.namePrefix ? { namePrefix: o.namePrefix } : {}),
      ...(o.synthetic ? { synthetic: true } : {}),
    };
    first += clients;
    const worker = new Worker(new URL('./worker.mjs', import.meta.url), { workerData: data });
    workers.push(worker);
    ready.push(
      new Promise((resolve, reject) => {
        worker.on('message', (m: WorkerMessage) => {
          if (m.type === 'ready') resolve();
          else if (m.type === 'error') reject(new Error(m.message));
          onMessage(m);
        });
        worker.on('error', reject);
      }),
    );
  }
  return {
    ready: Promise.all(ready).then(() => undefined),
    stop: () =>
      Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              w.once('exit', () => resolve());
              w.postMessage({ type: 'stop' });
              setTimeout(() => void w.terminate(), 10_000).unref();
            }),
        ),
      ).then(() => undefined),
  };
}
