/**
 * Test support (not exported): the client gateway plugin with the options a test chooses (caps, strike
 * limits, a clock, enrollment) on a real Socket.IO server on a free loopback port, a real run manager with no
 * run, and a real SQLite file; raw Socket.IO clients that record `bye` and the disconnect.
 */
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { CLIENT_NAMESPACE, EVENTS, PROTOCOL_VERSION, type HelloAck } from '@hushfl/protocol';
import { clientGatewayPlugin, type GatewayOptions } from './gateway.ts';
import { GatewayCounters } from './gatewayLimits.ts';
import { enginePlugin, storePlugin } from './lifecycle.ts';
import { RunManager } from './runManager.ts';
import { SqliteStore } from './sqliteStore.ts';
import { asyncStore } from './store.ts';

export type GatewayTestOptions = Partial<Omit<GatewayOptions, 'io' | 'manager' | 'store'>>;

/** A fake clock the gateway's per-minute caps, strike windows and log summaries read. */
export function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

export async function startGateway(o: GatewayTestOptions = {}, dataDir = mkdtempSync(join(tmpdir(), 'hushfl-gateway-'))) {
  const sqlite = new SqliteStore(join(dataDir, 'hushfl.db'));
  const store = asyncStore(sqlite);
  const app = Fastify({ logger: { level: 'silent' } });
  const warnings: string[] = [];
  app.log.warn = ((obj: unknown, msg?: string) => void warnings.push(`${msg ?? ''} ${JSON.stringify(obj)}`)) as never;
  const ioServer = new Server(app.server, { serveClient: false, cors: { origin: false } });
  const manager = new RunManager(store, join(dataDir, 'runs'), app.log);
  const counters = o.counters ?? new GatewayCounters();
  await app.register(storePlugin, { store });
  await app.register(enginePlugin, { manager, io: ioServer });
  await app.register(clientGatewayPlugin, { io: ioServer, manager, store, maxMiniClients: 4, secure: false, ...o, counters });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const sockets: Socket[] = [];
  return {
    app,
    store,
    sqlite,
    manager,
    counters,
    warnings,
    url,
    dataDir,
    /** A raw client: resolves once connected (or refused at once); `bye` and `gone` say how it ended. */
    connect: async (headers?: Record<string, string>) => {
      const socket = io(new URL(CLIENT_NAMESPACE, url).toString(), {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        ...(headers ? { extraHeaders: headers } : {}),
      });
      sockets.push(socket);
      const bye = new Promise<string>((resolve) => socket.once(EVENTS.bye, (b: { reason: string }) => resolve(b.reason)));
      const gone = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      return { socket, bye, gone };
    },
    close: async () => {
      for (const s of sockets) s.disconnect();
      await app.close();
    },
  };
}

export function hello(socket: Socket, extra: Record<string, unknown> = {}): Promise<HelloAck> {
  return socket.emitWithAck(EVENTS.hello, { v: PROTOCOL_VERSION, miniClients: 1, ...extra }) as Promise<HelloAck>;
}

/** Gives the server time to handle what was sent without an ack. */
export const settle = (ms = 100) => new Promise((r) => setTimeout(r, ms));
