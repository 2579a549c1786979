/**
 * One FL client in Node: a Socket.IO connection to the coordinator, its shards fetched over HTTP with its
 * session, and packages/client's runtime on TensorFlow.js (WASM). Can be told to vanish at a chosen point
 * of a round, to simulate dropouts; it then reconnects as the same client for later rounds.
 */
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { io, type Socket } from 'socket.io-client';
import { decodeShard, ClientRuntime, LocalTrainer, type Dataset } from '@hushfl/client';
import {
  CLIENT_NAMESPACE,
  EVENTS,
  PROTOCOL_VERSION,
  helloAckSchema,
  pack,
  unpack,
  roundEndSchema,
  secaggClientToWire,
  secaggEnvelopeFromServer,
  statusSchema,
  taskMessageSchema,
  type HelloAck,
  type Status,
  type TaskMessage,
} from '@hushfl/protocol';
import type { SecAggClientMessage } from '@hushfl/secagg';
import { initNodeTf } from './nodeTf.ts';

/** Where a simulated client vanishes in a round (the SecAgg drop points, plus before training). */
export type VanishPoint = 'before-advertise' | 'after-advertise' | 'after-share' | 'after-masked-input' | 'during-unmask';

const LAST_SENT: Record<Exclude<VanishPoint, 'before-advertise'>, SecAggClientMessage['type']> = {
  'after-advertise': 'advertise-keys',
  'after-share': 'share-keys',
  'after-masked-input': 'masked-input',
  'during-unmask': 'consistency-signature',
};

export interface NodeClientOptions {
  readonly url: string;
  readonly miniClients?: number;
  readonly name?: string;
  /** Decides, per task, whether and where this client vanishes in that round. */
  readonly vanish?: (task: TaskMessage) => VanishPoint | null;
  /** Milliseconds before a vanished client reconnects (default 500). */
  readonly rejoinAfterMs?: number;
  /** Simulator only: receives this client's clipped updates (it already holds their data). */
  readonly onClippedUpdates?: (roundId: string, clipped: readonly Float32Array[]) => void;
  readonly onStatus?: (s: Status) => void;
  readonly log?: (msg: string) => void;
  /** Accept self-signed TLS certificates (tests). */
  readonly insecureTls?: boolean;
}

export interface NodeClient {
  readonly clientId: string;
  readonly runtime: ClientRuntime;
  readonly socket: Socket;
  /** Rounds this client vanished from. */
  readonly vanished: Map<string, VanishPoint>;
  close(): Promise<void>;
}

function safeUnpack(payload: unknown): unknown {
  try {
    return unpack(payload);
  } catch {
    return undefined;
  }
}

async function hello(socket: Socket, payload: object): Promise<HelloAck> {
  const raw = await socket.timeout(15_000).emitWithAck(EVENTS.hello, payload);
  return helloAckSchema.parse(raw);
}

/** GET over node:http(s), so a test coordinator's self-signed certificate can be accepted explicitly. */
function getBytes(url: URL, headers: Record<string, string>, insecureTls: boolean): Promise<{ status: number; body: Buffer }> {
  const get = url.protocol === 'https:' ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const req = get(url, { headers, ...(insecureTls ? { rejectUnauthorized: false } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function fetchShard(url: string, index: number, clientId: string, token: string, insecureTls: boolean): Promise<Dataset> {
  const res = await getBytes(new URL(`/api/tasks/mnist/shards/${index}`, url), { 'x-hushfl-session': `${clientId}:${token}` }, insecureTls);
  if (res.status !== 200) throw new Error(`shard ${index}: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
  return decodeShard(new Uint8Array(res.body.buffer, res.body.byteOffset, res.body.byteLength));
}

export async function connectNodeClient(opts: NodeClientOptions): Promise<NodeClient> {
  const backend = await initNodeTf();
  const miniClients = opts.miniClients ?? 1;
  const log = opts.log ?? (() => {});
  const socket = io(new URL(CLIENT_NAMESPACE, opts.url).toString(), {
    transports: ['websocket'],
    reconnection: false,
    ...(opts.insecureTls ? { rejectUnauthorized: false } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (e) => reject(new Error(`cannot reach ${opts.url}: ${e.message}`)));
  });
  const ack = await hello(socket, { v: PROTOCOL_VERSION, miniClients, name: opts.name, backend });
  if (!ack.ok) throw new Error(`hello refused: ${ack.error}`);
  const { clientId, sessionToken } = ack;
  const datasets = await Promise.all(ack.shards.map((i) => fetchShard(opts.url, i, clientId, sessionToken, Boolean(opts.insecureTls))));
  const vanished = new Map<string, VanishPoint>();
  let current: Socket = socket;
  let vanishing: { roundId: string; after: SecAggClientMessage['type'] } | null = null;
  let closed = false;

  const runtime = new ClientRuntime(new LocalTrainer(datasets, backend), {
    sendSecAgg(roundId, message) {
      if (vanished.has(roundId) && vanishing?.roundId !== roundId) return; // gone from this round for good
      const packed = pack({ roundId, message: secaggClientToWire(message) });
      if (vanishing && vanishing.roundId === roundId && vanishing.after === message.type) {
        // Vanish only once the coordinator has handled this last message: Socket.IO drops an event that
        // arrives in the same tick as the disconnect.
        vanishing = null;
        const s = current;
        void s
          .timeout(10_000)
          .emitWithAck(EVENTS.secagg, packed)
          .catch(() => undefined)
          .finally(() => vanish(roundId, s));
      } else current.emit(EVENTS.secagg, packed);
    },
    report(r) {
      if (!vanished.has(r.roundId)) current.emit(EVENTS.report, r);
    },
    ...(opts.onClippedUpdates ? { onClippedUpdates: opts.onClippedUpdates } : {}),
  });

  const vanish = (roundId: string, s: Socket = current) => {
    log(`client ${clientId} vanishes from ${roundId}`);
    s.disconnect();
    setTimeout(() => {
      if (!closed) void rejoin().catch((e) => log(`client ${clientId} could not rejoin: ${(e as Error).message}`));
    }, opts.rejoinAfterMs ?? 500);
  };

  const wire = (s: Socket) => {
    s.on(EVENTS.task, (payload: unknown) => {
      const parsed = taskMessageSchema.safeParse(safeUnpack(payload));
      if (!parsed.success) return log(`client ${clientId}: invalid task: ${parsed.error.message}`);
      const task = parsed.data;
      // A round this client vanished from stays lost, even when the coordinator repeats it after a rejoin.
      if (vanished.has(task.roundId)) return;
      const point = opts.vanish?.(task) ?? null;
      if (point) {
        vanished.set(task.roundId, point);
        if (point === 'before-advertise') return vanish(task.roundId);
        vanishing = { roundId: task.roundId, after: LAST_SENT[point] };
      }
      void runtime.onTask(task);
    });
    s.on(EVENTS.secagg, (payload: unknown) => {
      const parsed = secaggEnvelopeFromServer.safeParse(safeUnpack(payload));
      if (!parsed.success) return log(`client ${clientId}: invalid secagg message: ${parsed.error.message}`);
      if (vanished.has(parsed.data.roundId) && vanishing?.roundId !== parsed.data.roundId) return;
      void runtime.onSecAgg(parsed.data.roundId, parsed.data.message);
    });
    s.on(EVENTS.roundEnd, (payload: unknown) => {
      const parsed = roundEndSchema.safeParse(payload);
      if (parsed.success) runtime.onRoundEnd(parsed.data);
    });
    s.on(EVENTS.status, (payload: unknown) => {
      const parsed = statusSchema.safeParse(payload);
      if (parsed.success) opts.onStatus?.(parsed.data);
    });
    s.on(EVENTS.bye, (payload: { reason?: string }) => log(`client ${clientId}: coordinator said bye: ${payload?.reason}`));
  };
  wire(socket);
  socket.emit(EVENTS.ready);

  const rejoin = async () => {
    const s = io(new URL(CLIENT_NAMESPACE, opts.url).toString(), {
      transports: ['websocket'],
      reconnection: false,
      ...(opts.insecureTls ? { rejectUnauthorized: false } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('connect_error', (e) => reject(e));
    });
    wire(s);
    current = s;
    const again = await hello(s, { v: PROTOCOL_VERSION, miniClients, name: opts.name, backend, resume: { clientId, sessionToken } });
    if (!again.ok) throw new Error(again.error);
    s.emit(EVENTS.ready);
  };

  return {
    clientId,
    runtime,
    get socket() {
      return current;
    },
    vanished,
    async close() {
      closed = true;
      current.disconnect();
      runtime.dispose();
    },
  };
}
