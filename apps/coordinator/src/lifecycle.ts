/**
 * The coordinator's two services as Fastify plugins that own their lifecycle: the SQLite store (closed last,
 * when the app closes) and the run manager with Socket.IO (shut down before the server stops listening:
 * the round in progress is recorded as aborted, an evaluation in flight finishes, sockets close). They are
 * shared, not encapsulated (fastify-plugin): every other plugin gets them as options.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Server } from 'socket.io';
import type { RunManager } from './runManager.ts';
import type { Store } from './store.ts';

export const storePlugin = fp(
  async (app: FastifyInstance, o: { store: Store }) => {
    app.addHook('onClose', async () => o.store.close());
  },
  { name: 'hushfl-store' },
);

export const enginePlugin = fp(
  async (app: FastifyInstance, o: { manager: RunManager; io: Server; cluster?: { close(): Promise<void> } | null }) => {
    app.addHook('preClose', async () => {
      await o.manager.close();
      // A cluster node hands its lease back only once its run is shut down (nothing of it is written later).
      await o.cluster?.close();
      o.io.close();
    });
  },
  { name: 'hushfl-engine', dependencies: ['hushfl-store'] },
);
