/**
 * One worker thread of the client pool (workerPool.ts): runs several Node clients (@hushfl/node: Socket.IO +
 * packages/client on TensorFlow.js WASM) against the coordinator. Clients vanish from rounds with the
 * configured probability at a uniformly chosen point (CSPRNG). The clipped updates go to the parent thread
 * only — never to the coordinator — so the simulator can measure the DDG error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { cryptoRandomWords } from '@hushfl/ddp';
import { connectNodeClient, type NodeClient, type VanishPoint } from '@hushfl/node';
import { DROP_POINTS, type PkiClientOptions } from '@hushfl/secagg';

export interface WorkerInput {
  readonly url: string;
  readonly clients: number;
  readonly firstIndex: number;
  readonly miniClients: number;
  readonly dropout: number;
  readonly insecureTls: boolean;
  /** PKI mode: the identity of the (single) client this thread runs, and the pinned authority key. */
  readonly pki?: Omit<PkiClientOptions, 'now'>;
  /** The join codes of this thread's clients, one each (enrollment). */
  readonly joinCodes?: readonly string[];
  /** Post each round's clipped updates to the parent (the simulator's error figures); false for demo devices. */
  readonly reportClipped?: boolean;
  /** The clients' name prefix (default `sim`). */
  readonly namePrefix?: string;
  /** Load-generator clients: synthetic updates, no training, no data (connectNodeClient `synthetic`). */
  readonly synthetic?: boolean;
}

export type WorkerMessage =
  | { type: 'ready'; clientIds: string[] }
  | { type: 'clipped'; clientId: string; roundId: string; clipped: Float32Array[] }
  | { type: 'vanished'; clientId: string; roundId: string; point: VanishPoint }
  | { type: 'metrics'; metrics: { clientId: string; metrics: unknown }[] }
  | { type: 'log'; message: string }
  | { type: 'error'; message: string };

const input = workerData as WorkerInput;
const port = parentPort!;
const rng = cryptoRandomWords();
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

const clients: NodeClient[] = [];
try {
  for (let i = 0; i < input.clients; i++) {
    let self: NodeClient | undefined;
    const client = await connectNodeClient({
      url: input.url,
      name: `${input.namePrefix ?? 'sim'}-${input.firstIndex + i}`,
      miniClients: input.miniClients,
      insecureTls: input.insecureTls,
      ...(input.synthetic ? { synthetic: true } : {}),
      ...(input.pki ? { pki: input.pki } : {}),
      ...(input.joinCodes?.[i] ? { joinCode: input.joinCodes[i] } : {}),
      vanish: (task) => {
        if (input.dropout <= 0 || rng.next() >= input.dropout * 4294967296) return null;
        const point = DROP_POINTS[rng.next() % DROP_POINTS.length]!;
        post({ type: 'vanished', clientId: self?.clientId ?? '?', roundId: task.roundId, point });
        return point;
      },
      ...(input.reportClipped === false
        ? {}
        : {
            onClippedUpdates: (roundId: string, clipped: readonly Float32Array[]) => {
              const copies = clipped.map((c) => c.slice());
              post(
                { type: 'clipped', clientId: self?.clientId ?? '?', roundId, clipped: copies },
                copies.map((c) => c.buffer as ArrayBuffer),
              );
            },
          }),
      log: (message) => post({ type: 'log', message }),
    });
    self = client;
    clients.push(client);
  }
  post({ type: 'ready', clientIds: clients.map((c) => c.clientId) });
} catch (e) {
  post({ type: 'error', message: (e as Error).message });
}

port.on('message', async (m: { type: string }) => {
  if (m.type !== 'stop') return;
  post({ type: 'metrics', metrics: clients.map((c) => ({ clientId: c.clientId, metrics: c.runtime.metrics })) });
  for (const c of clients) await c.close();
  port.close();
});
