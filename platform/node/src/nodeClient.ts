/**
 * One FL client in Node: packages/client's ClientSession over a Socket.IO socket, shards fetched over
 * node:http(s) (or, on a `data: local` run, shards of its own the caller hands it), and packages/client's
 * runtime on TensorFlow.js (WASM). Can be told to vanish at a chosen point
 * of a round, to simulate dropouts; it then reconnects as the same client for later rounds.
 */
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { io, type Socket } from 'socket.io-client';
import {
  ClientRuntime,
  ClientSession,
  httpErrorMessage,
  LocalTrainer,
  SyntheticTrainer,
  socketIoTransport,
  type ClientIdentity,
  type IdentityStore,
  type RuntimeHost,
} from '@hushfl/client';
import { CLIENT_NAMESPACE, pack, secaggClientToWire, type Status, type TaskMessage } from '@hushfl/protocol';
import { lastMessageBefore, type DropPoint, type PkiClientOptions, type SecAggClientMessage } from '@hushfl/secagg';
import { decodeShard } from '@hushfl/tasks';
import { initNodeTf } from './nodeTf.ts';

/** Where a simulated client vanishes in a round: the SecAgg drop points (the name callers already use). */
export type VanishPoint = DropPoint;

export interface NodeClientOptions {
  readonly url: string;
  readonly miniClients?: number;
  readonly name?: string;
  /** Decides, per task, whether and where this client vanishes in that round ('before-advertise': before training). */
  readonly vanish?: (task: TaskMessage) => VanishPoint | null;
  /** Milliseconds before a vanished client reconnects (default 500). */
  readonly rejoinAfterMs?: number;
  /** Simulator only: receives this client's clipped updates (it already holds their data). */
  readonly onClippedUpdates?: (roundId: string, clipped: readonly Float32Array[]) => void;
  readonly onStatus?: (s: Status) => void;
  readonly log?: (msg: string) => void;
  /** Accept self-signed TLS certificates (tests). */
  readonly insecureTls?: boolean;
  /** PKI mode (issue 12 §6): this client's enrolled identity and the pinned authority key (its own configuration). */
  readonly pki?: PkiClientOptions;
  /** A single-use join code (`hushfl invite`) for a coordinator with `access: { enrollment: true }`. */
  readonly joinCode?: string;
  /**
   * This client's own examples for a `data: local` run (the coordinator serves none): one shard (the shard
   * format, @hushfl/tasks encodeShard) per mini-client. Unused on a `data: demo` run.
   */
  readonly localShards?: readonly Uint8Array[];
  /**
   * The load generator's client (`hushfl loadtest`): no training and no data — each update is a synthetic
   * vector (SyntheticTrainer); DDG, SecAgg and the protocol are real. On a `data: local` run it brings no shards.
   */
  readonly synthetic?: boolean;
  /**
   * Reconnect by itself when the connection drops, with Socket.IO's backoff, as a browser tab does (default
   * off: a test client that loses its coordinator stays gone). Behind a load balancer the new connection may
   * reach another node of a cluster; hello resumes the same identity there.
   */
  readonly reconnect?: boolean;
}

export interface NodeClient {
  readonly clientId: string;
  readonly runtime: ClientRuntime;
  readonly socket: Socket;
  /** Rounds this client vanished from. */
  readonly vanished: Map<string, VanishPoint>;
  close(): Promise<void>;
}

/** The identity lives as long as the process: enough to rejoin after vanishing. */
function memoryIdentityStore(): IdentityStore {
  let identity: ClientIdentity | undefined;
  return {
    load: async () => identity,
    save: async (i) => {
      identity = i;
    },
    forget: async () => {
      identity = undefined;
    },
  };
}

/** GET over node:http(s), so a test coordinator's self-signed certificate can be accepted explicitly. */
export function getBytes(url: string, headers: Readonly<Record<string, string>>, insecureTls: boolean): Promise<Uint8Array> {
  const target = new URL(url);
  const get = target.protocol === 'https:' ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const req = get(target, { headers, ...(insecureTls ? { rejectUnauthorized: false } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        if (res.statusCode === 200) resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
        else reject(new Error(httpErrorMessage(res.statusCode ?? 0, body.toString('utf8'))));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Resolves once the client has joined and sent `ready`; rejects when the coordinator is unreachable or refuses it. */
export async function connectNodeClient(opts: NodeClientOptions): Promise<NodeClient> {
  const miniClients = opts.miniClients ?? 1;
  const own = opts.localShards;
  if (own && own.length !== miniClients)
    throw new RangeError(
      `localShards: ${own.length} shard${own.length === 1 ? '' : 's'} for ${miniClients} mini-client${miniClients === 1 ? '' : 's'}: give one per mini-client`,
    );
  const synthetic = Boolean(opts.synthetic);
  const backend = synthetic ? 'synthetic' : await initNodeTf();
  const log = opts.log ?? (() => {});
  const insecureTls = Boolean(opts.insecureTls);
  const socket = io(new URL(CLIENT_NAMESPACE, opts.url).toString(), {
    transports: ['websocket'],
    reconnection: Boolean(opts.reconnect),
    reconnectionDelay: 200,
    reconnectionDelayMax: 2000,
    autoConnect: false,
    ...(insecureTls ? { rejectUnauthorized: false } : {}),
  });
  const shardBytes = new Map<string, Uint8Array>();
  const vanished = new Map<string, VanishPoint>();
  let vanishing: { roundId: string; after: SecAggClientMessage['type'] } | null = null;
  let runtime: ClientRuntime | null = null;
  let clientId = '?';
  /** The data the last hello was for, and the data the runtime trains on (hello ack dataKey). */
  let joinedFor = '';
  let runtimeData = '';
  let closed = false;
  // The first join settles connectNodeClient; later failures (rejoining after vanishing) are only logged.
  let joined: { resolve(r: ClientRuntime): void; reject(e: Error): void } | null = null;
  const firstJoin = new Promise<ClientRuntime>((resolve, reject) => {
    joined = { resolve, reject };
  });
  const fail = (e: Error) => {
    if (joined) {
      joined.reject(e);
      joined = null;
      session.stop();
    } else log(`client ${clientId} could not rejoin: ${e.message}`);
  };

  const vanish = (roundId: string) => {
    log(`client ${clientId} vanishes from ${roundId}`);
    socket.disconnect();
    setTimeout(() => {
      if (!closed) socket.connect(); // hello resumes the same identity
    }, opts.rejoinAfterMs ?? 500);
  };

  const host: RuntimeHost = {
    sendSecAgg(roundId, message) {
      if (vanished.has(roundId) && vanishing?.roundId !== roundId) return; // gone from this round for good
      const envelope = pack({ roundId, message: secaggClientToWire(message) });
      if (vanishing && vanishing.roundId === roundId && vanishing.after === message.type) {
        // Vanish only once the coordinator has handled this last message: Socket.IO drops an event that
        // arrives in the same tick as the disconnect.
        vanishing = null;
        void session
          .sendSecAgg(envelope, 10_000)
          .catch(() => undefined)
          .finally(() => vanish(roundId));
        return;
      }
      session
        .sendSecAgg(envelope)
        .then((ack) => {
          if (!ack.ok) log(`client ${clientId}: the coordinator did not take its ${message.type}: ${ack.reason ?? 'no reason given'}`);
        })
        .catch(() => undefined);
    },
    report(r) {
      if (!vanished.has(r.roundId)) session.report(r);
    },
    ...(opts.onClippedUpdates ? { onClippedUpdates: opts.onClippedUpdates } : {}),
  };

  const session = new ClientSession({
    transport: socketIoTransport(socket),
    identities: memoryIdentityStore(),
    coordinatorUrl: opts.url,
    fetchShard: (url, headers) => getBytes(url, headers, insecureTls),
    // Kept for rejoins: the same identity trains on the same shards.
    shardCache: {
      get: async (key, index) => shardBytes.get(`${key}/${index}`),
      put: async (key, index, bytes) => void shardBytes.set(`${key}/${index}`, bytes),
    },
    ...(own ? { localShards: async () => own.map((bytes, index) => ({ index, bytes })) } : {}),
    ...(synthetic && !own ? { localShards: async () => Array.from({ length: miniClients }, (_, index) => ({ index, bytes: new Uint8Array(0) })) } : {}),
    hello: { miniClients, name: opts.name, backend, ...(opts.joinCode ? { joinCode: opts.joinCode } : {}) },
    handlers: {
      onJoined: (ack) => {
        clientId = ack.clientId;
        joinedFor = ack.dataKey;
      },
      onShardsLoaded: async (shards) => {
        // Rejoined for other data (a run on another task): a runtime on the new shards.
        if (runtime && runtimeData !== joinedFor) {
          runtime.dispose();
          runtime = null;
        }
        runtimeData = joinedFor;
        runtime ??= new ClientRuntime(
          synthetic
            ? new SyntheticTrainer(miniClients)
            : new LocalTrainer(
                shards.map((s) => decodeShard(s.bytes)),
                backend,
              ),
          host,
          opts.pki ? { pki: opts.pki } : {},
        );
      },
      onReady: () => {
        if (runtime) joined?.resolve(runtime);
        joined = null;
      },
      onTask: (task) => {
        // A round this client vanished from stays lost, even when the coordinator repeats it after a rejoin.
        if (!runtime || vanished.has(task.roundId)) return;
        const point = opts.vanish?.(task) ?? null;
        if (point) {
          vanished.set(task.roundId, point);
          const after = lastMessageBefore(point);
          if (after === null) return vanish(task.roundId);
          vanishing = { roundId: task.roundId, after };
        }
        void runtime.onTask(task);
      },
      onSecAgg: ({ roundId, message }) => {
        if (vanished.has(roundId) && vanishing?.roundId !== roundId) return;
        void runtime?.onSecAgg(roundId, message);
      },
      onRoundEnd: (end) => runtime?.onRoundEnd(end),
      ...(opts.onStatus ? { onStatus: opts.onStatus } : {}),
      onBye: (reason) => log(`client ${clientId}: coordinator said bye: ${reason}`),
      onInvalid: (event, reason) => log(`client ${clientId}: invalid ${event} message: ${reason}`),
      onRefused: (error) => fail(new Error(`hello refused: ${error}`)),
      onError: fail,
      onConnectError: (e) => fail(joined ? new Error(`cannot reach ${opts.url}: ${e.message}`) : e),
    },
  });
  session.start();
  const ready = await firstJoin;
  return {
    clientId,
    runtime: ready,
    socket,
    vanished,
    async close() {
      closed = true;
      session.stop();
      ready.dispose();
    },
  };
}
