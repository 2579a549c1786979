/**
 * Test support (not exported): a coordinator on a free loopback port with a temporary data directory, honest
 * Node clients, and the attackers of issue 13 (a protocol-speaking client with tampered messages, an idle Sybil).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNodeClient, type NodeClient, type NodeClientOptions } from '@hushfl/node';
import { fakeClient } from '@hushfl/engine/testing';
import { CLIENT_NAMESPACE, EVENTS, type HelloAck, PROTOCOL_VERSION, parseRunConfig, type RunConfigInput } from '@hushfl/protocol';
import { io, type Socket } from 'socket.io-client';
import type { SecAggClientMessage } from '@hushfl/secagg';
import { findTask, modelDimension, taskShape } from '@hushfl/tasks';
import { createCoordinator, type Coordinator, type CoordinatorOptions } from './app.ts';
import type { CoordinatorEvent, RoundSummary } from './runManager.ts';

export const fastDeadlines = { training: 60, shareKeys: 10, maskedInput: 10, consistencyCheck: 10, unmasking: 10 };

export function testConfig(overrides: Partial<RunConfigInput> & Pick<RunConfigInput, 'rounds' | 'minClients'>): RunConfigInput {
  return {
    task: { shards: 266 },
    deadlines: fastDeadlines,
    training: { epochs: 2, batchSize: 16, learningRate: 0.1 },
    ddg: { noise: false, bits: 16 },
    // Test rounds have a few parties: an absolute bound, as γ = 0.1 at 2^-40 needs n >= 15 (issue 12).
    secagg: { maxColluders: 1 },
    ...overrides,
  };
}

export async function startTestCoordinator(
  config?: RunConfigInput,
  dataDir = mkdtempSync(join(tmpdir(), 'hushfl-test-')),
  options: Partial<CoordinatorOptions> = {},
) {
  const c = await createCoordinator({
    ...options,
    port: 0,
    dataDir,
    logLevel: (process.env.HUSHFL_TEST_LOG as 'warn' | undefined) ?? 'silent',
    operatorToken: 'test-operator-token-0123456789',
    ...(config ? { runConfig: parseRunConfig(config) } : {}),
  });
  const rounds: RoundSummary[] = [];
  const events: CoordinatorEvent[] = [];
  c.manager.on('event', (e: CoordinatorEvent) => {
    events.push(e);
    if (e.type === 'round') rounds.push(e);
  });
  return { c, rounds, events, dataDir };
}

export async function startClients(url: string, n: number, opts: (i: number) => Partial<NodeClientOptions> = () => ({})): Promise<NodeClient[]> {
  const clients: NodeClient[] = [];
  for (let i = 0; i < n; i++) clients.push(await connectNodeClient({ url, name: `t${i}`, ...opts(i) }));
  return clients;
}

export async function stopAll(c: Coordinator, clients: NodeClient[]): Promise<void> {
  for (const cl of clients) await cl.close();
  await c.close();
}

/** A raw protocol connection and its hello ack (refused: an error). */
async function rawConnect(url: string, hello: Record<string, unknown>): Promise<{ socket: Socket; ack: Extract<HelloAck, { ok: true }> }> {
  const socket: Socket = io(new URL(CLIENT_NAMESPACE, url).toString(), { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const ack = await socket.emitWithAck(EVENTS.hello, { v: PROTOCOL_VERSION, miniClients: 1, ...hello });
  if (!ack.ok) throw new Error(`${String(hello.name)}: hello refused: ${ack.error}`);
  return { socket, ack };
}

// biome-ignore lint/suspicious/noExplicitAny: Socket.IO's own listener type
type Listener = (...args: any[]) => void;

/** A protocol-speaking test client whose connection may be replaced (it rejoins for a run's data). */
export interface RawClient {
  readonly clientId: string;
  /** The current connection. */
  readonly socket: Socket;
  /** A handler on this connection and every later one. */
  on(event: string, handler: Listener): void;
  close(): void;
}

/**
 * Says hello and ready and, like ClientSession, rejoins (resuming its identity) when a status names other data
 * than it joined for — an attacker or Sybil that wants to be selected must. `attach` wires each connection.
 */
async function rawClient(url: string, name: string, attach: (socket: Socket) => void): Promise<RawClient> {
  const first = await rawConnect(url, { name });
  const resume = { clientId: first.ack.clientId, sessionToken: first.ack.sessionToken };
  const listeners: [string, Listener][] = [];
  let socket = first.socket;
  let dataKey = first.ack.dataKey;
  let closed = false;
  const wire = (s: Socket) => {
    attach(s);
    for (const [event, handler] of listeners) s.on(event, handler);
    s.on(EVENTS.status, (status: { dataKey?: string }) => {
      if (closed || status.dataKey === undefined || status.dataKey === dataKey) return;
      s.disconnect();
      void rawConnect(url, { name, resume }).then((next) => {
        if (closed) return void next.socket.close();
        socket = next.socket;
        dataKey = next.ack.dataKey;
        wire(socket);
        socket.emit(EVENTS.ready);
      });
    });
  };
  wire(socket);
  socket.emit(EVENTS.ready);
  return {
    clientId: resume.clientId,
    get socket() {
      return socket;
    },
    on(event, handler) {
      listeners.push([event, handler]);
      socket.on(event, handler);
    },
    close() {
      closed = true;
      socket.close();
    },
  };
}

/** A client that follows the protocol with the real SecAgg client, but passes each message it sends through `tamper`. */
export async function attacker(url: string, config: RunConfigInput, tamper: (round: number, m: SecAggClientMessage) => SecAggClientMessage) {
  const { task } = parseRunConfig(config);
  const dim = modelDimension(task.model, taskShape(findTask(task.name)));
  const errors: unknown[] = [];
  let endpoint: ReturnType<ReturnType<typeof fakeClient>> | null = null;
  const client = await rawClient(url, 'attacker', (socket) => {
    for (const event of [EVENTS.task, EVENTS.secagg])
      socket.on(event, (payload: unknown) => void Promise.resolve(endpoint?.deliver(event, payload)).catch((e: unknown) => errors.push(e)));
    socket.on(EVENTS.liveness, (probe: unknown) => socket.emit(EVENTS.liveness, probe));
  });
  endpoint = fakeClient({ update: () => new Float32Array(dim), tamper })(client.clientId, (event, payload) => client.socket.emit(event, payload));
  return {
    clientId: client.clientId,
    errors,
    get socket() {
      return client.socket;
    },
    close: () => client.close(),
  };
}

/**
 * An idle Sybil: says hello and ready (and rejoins for a run's data, to be eligible), then never answers
 * anything — no SecAgg message, and no liveness probe unless `echoProbes` (a Sybil that proves it is live but
 * never takes part). Resolves once it is ready.
 */
export async function idleSybil(url: string, name = 'sybil', o: { echoProbes?: boolean } = {}): Promise<RawClient> {
  return rawClient(url, name, (socket) => {
    if (o.echoProbes) socket.on(EVENTS.liveness, (probe: unknown) => socket.emit(EVENTS.liveness, probe));
  });
}
