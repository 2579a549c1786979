/**
 * Test support (not exported): a coordinator on a free loopback port with a temporary data directory, honest
 * Node clients, and the attackers of issue 13 (a protocol-speaking client with tampered messages, an idle Sybil).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNodeClient, type NodeClient, type NodeClientOptions } from '@hushfl/node';
import { fakeClient } from '@hushfl/engine/testing';
import { CLIENT_NAMESPACE, EVENTS, PROTOCOL_VERSION, parseRunConfig, type RunConfigInput } from '@hushfl/protocol';
import { io, type Socket } from 'socket.io-client';
import type { SecAggClientMessage } from '@hushfl/secagg';
import { modelDimension } from '@hushfl/tasks';
import { createCoordinator, type Coordinator } from './app.ts';
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

export async function startTestCoordinator(config?: RunConfigInput, dataDir = mkdtempSync(join(tmpdir(), 'hushfl-test-'))) {
  const c = await createCoordinator({
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

/** A client that follows the protocol with the real SecAgg client, but passes each message it sends through `tamper`. */
export async function attacker(url: string, config: RunConfigInput, tamper: (round: number, m: SecAggClientMessage) => SecAggClientMessage) {
  const socket: Socket = io(new URL(CLIENT_NAMESPACE, url).toString(), { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const ack = await socket.emitWithAck(EVENTS.hello, { v: PROTOCOL_VERSION, miniClients: 1, name: 'attacker' });
  if (!ack.ok) throw new Error(`attacker hello refused: ${ack.error}`);
  const dim = modelDimension(parseRunConfig(config).task.model);
  const errors: unknown[] = [];
  const endpoint = fakeClient({ update: () => new Float32Array(dim), tamper })(ack.clientId, (event, payload) => socket.emit(event, payload));
  for (const event of [EVENTS.task, EVENTS.secagg])
    socket.on(event, (payload: unknown) => void Promise.resolve(endpoint.deliver(event, payload)).catch((e: unknown) => errors.push(e)));
  socket.on(EVENTS.liveness, (probe: unknown) => socket.emit(EVENTS.liveness, probe));
  socket.emit(EVENTS.ready);
  return { socket, clientId: ack.clientId as string, errors };
}

/**
 * An idle Sybil: says hello and ready, then never answers anything — no SecAgg message, and no liveness probe
 * unless `echoProbes` (a Sybil that proves it is live but never takes part). Resolves once it is ready.
 */
export async function idleSybil(url: string, name = 'sybil', o: { echoProbes?: boolean } = {}): Promise<Socket> {
  const socket: Socket = io(new URL(CLIENT_NAMESPACE, url).toString(), { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const ack = await socket.emitWithAck(EVENTS.hello, { v: PROTOCOL_VERSION, miniClients: 1, name });
  if (!ack.ok) throw new Error(`sybil hello refused: ${ack.error}`);
  if (o.echoProbes) socket.on(EVENTS.liveness, (probe: unknown) => socket.emit(EVENTS.liveness, probe));
  socket.emit(EVENTS.ready);
  return socket;
}
