/**
 * One client's session with the coordinator, over any transport: hello (resuming a stored identity), the
 * "unknown session" recovery, the shard download, `ready`, and every incoming message validated against the
 * protocol schemas before a handler sees it. The shells (the browser page, Node clients) supply the transport
 * (a Socket.IO socket behind a small adapter), the identity store and the HTTP client; this file imports no
 * socket library, DOM or Node API.
 */
import {
  EVENTS,
  EnvelopeError,
  PROTOCOL_VERSION,
  asBytes,
  byeSchema,
  livenessSchema,
  helloAckSchema,
  roundEndSchema,
  secaggEnvelopeFromServer,
  statusSchema,
  taskMessageSchema,
  unpack,
  type Hello,
  type HelloAck,
  type Packed,
  type RoundEnd,
  type Status,
  type TaskMessage,
} from '@hushfl/protocol';
import { type LocalReport, wireReport } from './report.ts';

/**
 * A message channel to the coordinator. Besides the protocol's events, `on` delivers the connection events
 * `connect`, `disconnect` (with a reason string) and `connect_error` (with an Error).
 */
export interface ClientTransport {
  connect(): void;
  disconnect(): void;
  on(event: string, handler: (payload?: unknown) => void): void;
  /** Sends an event; without a payload, the event carries none. */
  emit(event: string, payload?: unknown): void;
  /** Sends an event and resolves with the coordinator's acknowledgement; rejects after `timeoutMs` or on disconnect. */
  emitWithAck(event: string, payload: unknown, timeoutMs: number): Promise<unknown>;
}

/**
 * What ClientSession needs of a Socket.IO client socket (browser or Node), structurally, so this package
 * imports no socket library: Socket.IO puts ack timeouts on `timeout()`.
 */
export interface SocketIoLike {
  connect(): unknown;
  disconnect(): unknown;
  on(event: string, handler: (payload?: unknown) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  timeout(ms: number): { emitWithAck(event: string, payload: unknown): Promise<unknown> };
}

/** A Socket.IO socket as a ClientTransport. */
export function socketIoTransport(socket: SocketIoLike): ClientTransport {
  return {
    connect: () => void socket.connect(),
    disconnect: () => void socket.disconnect(),
    on: (event, handler) => void socket.on(event, handler),
    // An event without a payload (`ready`) goes out without one, not with a null.
    emit: (event, payload) => void (payload === undefined ? socket.emit(event) : socket.emit(event, payload)),
    emitWithAck: (event, payload, timeoutMs) => socket.timeout(timeoutMs).emitWithAck(event, payload),
  };
}

/** Who this client is to the coordinator, kept between sessions (the page keeps it in IndexedDB). */
export interface ClientIdentity {
  readonly clientId: string;
  readonly sessionToken: string;
  readonly miniClients: number;
  readonly shards: number[];
}

export interface IdentityStore {
  load(): Promise<ClientIdentity | undefined>;
  save(identity: ClientIdentity): Promise<void>;
  forget(): Promise<void>;
}

/** Shards kept between joins, by the data they belong to (the ack's dataKey) and index: one found here is not downloaded again. */
export interface ShardCache {
  get(dataKey: string, index: number): Promise<Uint8Array | undefined>;
  put(dataKey: string, index: number, bytes: Uint8Array): Promise<void>;
}

export interface Shard {
  readonly index: number;
  readonly bytes: Uint8Array;
}

export type JoinedAck = Extract<HelloAck, { ok: true }>;
export type SecAggFromServer = ReturnType<typeof secaggEnvelopeFromServer.parse>;

/** The coordinator's answer to a SecAgg message: taken, or refused with a reason. */
export interface SecAggAck {
  readonly ok: boolean;
  readonly reason?: string;
}

export interface SessionHandlers {
  /** Hello was accepted (a new client, or the stored one resumed). */
  onJoined?(ack: JoinedAck): void;
  /** Called after every join with this client's shards; resolve once the runtime can take a task: `ready` follows. */
  onShardsLoaded(shards: readonly Shard[]): Promise<void>;
  /** `ready` was sent: the coordinator may select this client. */
  onReady?(): void;
  /** A valid task, and the envelope it came in (for shells that hand it on to another thread). */
  onTask(task: TaskMessage, envelope: Packed): void;
  onSecAgg(message: SecAggFromServer, envelope: Packed): void;
  onRoundEnd?(end: RoundEnd): void;
  onStatus?(status: Status): void;
  onBye?(reason: string): void;
  /** The coordinator refused hello (other than an unknown session, which the session recovers from). */
  onRefused?(error: string): void;
  /** An incoming message failed validation; it went no further. */
  onInvalid?(event: string, reason: string): void;
  /** Joining failed (no hello ack in time, a shard download, `onShardsLoaded`). */
  onError?(error: Error): void;
  onDisconnect?(reason: string): void;
  onConnectError?(error: Error): void;
}

export interface ClientSessionOptions {
  readonly transport: ClientTransport;
  readonly identities: IdentityStore;
  /** The coordinator's base URL: the hello ack's shard path is resolved against it. */
  readonly coordinatorUrl: string;
  /** Downloads one shard (GET with these headers); throws when the coordinator does not answer 200. */
  readonly fetchShard: (url: string, headers: Readonly<Record<string, string>>) => Promise<Uint8Array>;
  readonly shardCache?: ShardCache;
  /**
   * The person's own examples, for a run with `data: local` (the coordinator serves none): one shard per
   * mini-client, in the shard format, built on the device (it may wait until the person has picked them).
   * Without it such a run cannot be joined.
   */
  readonly localShards?: (ack: JoinedAck) => Promise<Shard[]>;
  /** The first wait before joining again after a failed join (default JOIN_RETRY_MIN_MS; it doubles). */
  readonly joinRetryMs?: number;
  /** `joinCode`: for a coordinator with enrollment; it is sent with every hello and only a new identity uses it. */
  readonly hello: Pick<Hello, 'miniClients' | 'name' | 'backend' | 'userAgent' | 'joinCode'>;
  readonly handlers: SessionHandlers;
}

const HELLO_ACK_TIMEOUT_MS = 15_000;
/** Waits before joining again after a join failed (its data could not be had), doubling to the maximum. */
export const JOIN_RETRY_MIN_MS = 5_000;
export const JOIN_RETRY_MAX_MS = 60_000;
const SECAGG_ACK_TIMEOUT_MS = 60_000;

/** What the session needs of a protocol schema (zod's safeParse). */
interface Schema<T> {
  safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

function check<T>(schema: Schema<T>, raw: unknown): Checked<T> {
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const reason = r.error.issues.map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message)).join('; ');
  return { ok: false, reason };
}

/** The envelope as received, `bin` as bytes (Socket.IO gives an ArrayBuffer in browsers, a Buffer in Node). */
function asEnvelope(raw: unknown): Packed | null {
  if (typeof raw !== 'object' || raw === null || !('json' in raw) || typeof raw.json !== 'string' || !('bin' in raw)) return null;
  const bin = asBytes(raw.bin);
  return bin ? { json: raw.json, bin } : null;
}

/** An envelope {json, bin}, unpacked (bounds and sizes) and then checked against `schema`. */
function checkEnvelope<T>(schema: Schema<T>, raw: unknown): Checked<{ message: T; envelope: Packed }> {
  let unpacked: unknown;
  try {
    unpacked = unpack(raw);
  } catch (e) {
    return { ok: false, reason: e instanceof EnvelopeError ? e.message : 'malformed envelope' };
  }
  const envelope = asEnvelope(raw);
  if (!envelope) return { ok: false, reason: 'malformed envelope' };
  const r = check(schema, unpacked);
  return r.ok ? { ok: true, value: { message: r.value, envelope } } : r;
}

function readSecAggAck(raw: unknown): SecAggAck | null {
  if (typeof raw !== 'object' || raw === null || !('ok' in raw) || typeof raw.ok !== 'boolean') return null;
  if (!('reason' in raw) || raw.reason === undefined) return { ok: raw.ok };
  return typeof raw.reason === 'string' ? { ok: raw.ok, reason: raw.reason } : null;
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

export class ClientSession {
  private readonly transport: ClientTransport;
  private readonly handlers: SessionHandlers;
  /** Bumped on every connect and disconnect: a join in progress stops when its connection is gone. */
  private connection = 0;
  /** Hello was accepted on the current connection: only then do SecAgg messages and reports go out. */
  private joined = false;
  private stopped = false;
  /** The last report sent, as JSON (the same one is not sent twice in a row). */
  private lastReport = '';
  private joinRetryMs: number;
  /** The data the current join is for (the ack's dataKey). */
  private dataKey: string | null = null;

  constructor(private readonly opts: ClientSessionOptions) {
    this.joinRetryMs = opts.joinRetryMs ?? JOIN_RETRY_MIN_MS;
    this.transport = opts.transport;
    this.handlers = opts.handlers;
    const t = this.transport;
    const h = this.handlers;
    t.on('connect', () => {
      const connection = ++this.connection;
      // A join superseded meanwhile (a rejoin) reports nothing: its failure is not this connection's.
      void this.join(connection).catch((e: unknown) => {
        if (connection === this.connection) h.onError?.(asError(e));
      });
    });
    t.on('disconnect', (reason) => {
      this.connection++;
      this.joined = false;
      h.onDisconnect?.(typeof reason === 'string' ? reason : 'unknown reason');
    });
    t.on('connect_error', (e) => h.onConnectError?.(asError(e)));
    t.on(EVENTS.task, (raw) => {
      const r = checkEnvelope(taskMessageSchema, raw);
      if (r.ok) h.onTask(r.value.message, r.value.envelope);
      else h.onInvalid?.(EVENTS.task, r.reason);
    });
    t.on(EVENTS.secagg, (raw) => {
      const r = checkEnvelope(secaggEnvelopeFromServer, raw);
      if (r.ok) h.onSecAgg(r.value.message, r.value.envelope);
      else h.onInvalid?.(EVENTS.secagg, r.reason);
    });
    this.onValid(EVENTS.roundEnd, roundEndSchema, (end) => h.onRoundEnd?.(end));
    this.onValid(EVENTS.status, statusSchema, (status) => {
      h.onStatus?.(status);
      // The run trains on other data than we joined for: rejoin, and the new ack brings its task and shards.
      if (status.dataKey !== undefined && this.joined && status.dataKey !== this.dataKey) this.rejoin();
    });
    this.onValid(EVENTS.bye, byeSchema, (bye) => h.onBye?.(bye.reason));
    // A liveness probe (after two silent attempts): echoed at once, so the coordinator selects us again.
    this.onValid(EVENTS.liveness, livenessSchema, (probe) => {
      if (this.joined) this.transport.emit(EVENTS.liveness, probe);
    });
  }

  private onValid<T>(event: string, schema: Schema<T>, handle: (value: T) => void): void {
    this.transport.on(event, (raw) => {
      const r = check(schema, raw);
      if (r.ok) handle(r.value);
      else this.handlers.onInvalid?.(event, r.reason);
    });
  }

  /** Connects; hello follows on every (re)connection. */
  start(): void {
    this.stopped = false;
    this.transport.connect();
  }

  /** Leaves for good: no reconnection from here (the shell may `start` again). */
  stop(): void {
    this.stopped = true;
    this.transport.disconnect();
  }

  /**
   * Sends a packed SecAgg envelope and resolves with the coordinator's ack. Rejects when the client has not
   * joined on the current connection (Socket.IO would otherwise send it ahead of the next hello, and the
   * coordinator drops a session that speaks before hello; after a reconnect the coordinator repeats its request).
   */
  async sendSecAgg(envelope: Packed, timeoutMs = SECAGG_ACK_TIMEOUT_MS): Promise<SecAggAck> {
    if (!this.joined) throw new Error('not joined: the SecAgg message was not sent');
    const raw = await this.transport.emitWithAck(EVENTS.secagg, envelope, timeoutMs);
    const ack = readSecAggAck(raw);
    if (ack) return ack;
    this.handlers.onInvalid?.(EVENTS.secagg, 'malformed ack: expected {ok, reason?}');
    throw new Error('malformed SecAgg ack');
  }

  /** A progress report, as the wire allows it (nothing derived from data); dropped while not joined (see sendSecAgg). */
  report(report: LocalReport): void {
    if (!this.joined) return;
    // One report per change of what the wire may say: repeats would count the batches again.
    const wire = wireReport(report);
    const key = JSON.stringify(wire);
    if (key === this.lastReport) return;
    this.lastReport = key;
    this.transport.emit(EVENTS.report, wire);
  }

  private async join(connection: number): Promise<void> {
    const current = () => connection === this.connection && !this.stopped;
    const known = await this.opts.identities.load();
    const hello: Hello = {
      v: PROTOCOL_VERSION,
      ...this.opts.hello,
      ...(known ? { resume: { clientId: known.clientId, sessionToken: known.sessionToken } } : {}),
    };
    const raw = await this.transport.emitWithAck(EVENTS.hello, hello, HELLO_ACK_TIMEOUT_MS);
    const parsed = check(helloAckSchema, raw);
    if (!parsed.ok) return this.handlers.onInvalid?.(EVENTS.hello, parsed.reason);
    const ack = parsed.value;
    if (!ack.ok) {
      if (known && /unknown session/.test(ack.error)) {
        // The coordinator does not know us any more (a new database) and closes this connection: start over
        // as a new client on a fresh one. Not gated on `current()`: its disconnect may already have arrived.
        await this.opts.identities.forget();
        if (this.stopped) return;
        this.transport.disconnect();
        this.transport.connect();
        return;
      }
      return this.handlers.onRefused?.(ack.error);
    }
    if (!current()) return;
    const identity: ClientIdentity = { clientId: ack.clientId, sessionToken: ack.sessionToken, miniClients: this.opts.hello.miniClients, shards: ack.shards };
    await this.opts.identities.save(identity);
    if (!current()) return;
    this.joined = true;
    this.dataKey = ack.dataKey;
    this.handlers.onJoined?.(ack);
    try {
      const shards = await this.loadShards(ack);
      if (!current()) return;
      await this.handlers.onShardsLoaded(shards);
    } catch (e) {
      // The data could not be had (a download refused, the run changed meanwhile): say so, then join again
      // later — a join that gave up would otherwise never be told about the next run.
      if (!current()) return;
      this.retryJoin(connection);
      throw e;
    }
    if (!current()) return;
    this.joinRetryMs = this.opts.joinRetryMs ?? JOIN_RETRY_MIN_MS;
    this.transport.emit(EVENTS.ready);
    this.handlers.onReady?.();
  }

  /** Joins again after a failed join, backing off (doubling up to JOIN_RETRY_MAX_MS) until one succeeds. */
  private retryJoin(connection: number): void {
    const wait = this.joinRetryMs;
    this.joinRetryMs = Math.min(JOIN_RETRY_MAX_MS, wait * 2);
    setTimeout(() => {
      if (connection === this.connection && !this.stopped) this.rejoin();
    }, wait);
  }

  /** A new connection, so a new hello. */
  private rejoin(): void {
    this.transport.disconnect();
    if (!this.stopped) this.transport.connect();
  }

  private async loadShards(ack: JoinedAck): Promise<Shard[]> {
    if (ack.data === 'local') {
      if (!this.opts.localShards) throw new Error(`this run trains on data on your device (the ${ack.task} task): this client has no way to pick it`);
      return this.opts.localShards(ack);
    }
    const headers = { 'x-hushfl-session': `${ack.clientId}:${ack.sessionToken}` };
    const cache = this.opts.shardCache;
    const shards: Shard[] = [];
    for (const index of ack.shards) {
      let bytes = await cache?.get(ack.dataKey, index);
      if (!bytes) {
        const url = new URL(`${ack.shardUrl}${index}`, this.opts.coordinatorUrl).toString();
        try {
          bytes = await this.opts.fetchShard(url, headers);
        } catch (e) {
          throw new Error(`shard ${index}: ${asError(e).message}`);
        }
        await cache?.put(ack.dataKey, index, bytes);
      }
      shards.push({ index, bytes });
    }
    return shards;
  }
}
