/**
 * The client gateway: the Socket.IO namespace /v1/clients. Every message is checked against its
 * packages/protocol schema at the boundary; sessions are a random client id plus a session token (stored
 * hashed) issued at `hello`; with enrollment, a new identity needs a single-use join code (invites.ts).
 * Sybils and floods cost something (issue 13 §2, gatewayLimits.ts): connections are capped in all and per
 * address, new identities per address per minute, hellos per connection and resumes per identity per minute;
 * every client event is rate-limited, and each dropped or refused message is a strike of its abuse class
 * that a client with an ack callback is told the reason of; too many and the connection is closed with a
 * `bye`. Drops are logged in rate-limited summaries (droppedLog.ts), identities that never finished a round
 * are pruned (pruning.ts), and the counts are in GatewayCounters.
 */
import type { FastifyInstance } from 'fastify';
import type { Server, Socket } from 'socket.io';
import {
  CLIENT_NAMESPACE,
  EVENTS,
  EnvelopeError,
  helloSchema,
  livenessSchema,
  operatorRoutes,
  reportSchema,
  routePath,
  secaggEnvelopeFromClient,
  unpack,
  type HelloAck,
} from '@hushfl/protocol';
import { RateLimiter, hashToken, randomToken, sameSecret } from './auth.ts';
import { DroppedLog } from './droppedLog.ts';
import { storedRunConfig } from './runPersistence.ts';
import {
  GatewayCounters,
  SlidingWindow,
  addressKey,
  clientAddress,
  isLoopback,
  resolveLimits,
  type CloseReason,
  type GatewayLimitsInput,
  type LimitedClass,
} from './gatewayLimits.ts';
import { redeemJoinCode } from './invites.ts';
import { DEFAULT_CLIENT_RETENTION_MS, DEFAULT_PRUNE_INTERVAL_MS, startPruning } from './pruning.ts';
import { clientRoom, type RunBackend } from './runBackend.ts';
import type { ClientConnection, CoordinatorEvent, Logger } from './shellTypes.ts';
import { SerialQueue } from './serialQueue.ts';
import { ShardTakenError, type Store } from './store.ts';

/** Dropped progress reports per rate-limit strike (reports are dropped, not struck, one by one). */
export const REPORT_DROPS_PER_STRIKE = 20;
const HELLO_TIMEOUT_MS = 15_000;
const MINUTE_MS = 60_000;
/** Socket.IO's own events: a client that names one has not sent a client event. */
const RESERVED_EVENTS: ReadonlySet<string> = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'error', 'newListener', 'removeListener']);

export interface GatewayOptions {
  readonly io: Server;
  readonly manager: RunBackend;
  readonly store: Store;
  readonly maxMiniClients: number;
  readonly secure: boolean;
  /** Caps and strike limits (gatewayLimits.ts DEFAULT_GATEWAY_LIMITS for what is not given). */
  readonly limits?: GatewayLimitsInput;
  /**
   * Require a join code of every new identity, with or without a run (CoordinatorOptions `access`). A run's
   * `access: { enrollment: true }` requires it while that run is active; a run cannot lift this one.
   */
  readonly enrollment?: boolean;
  /** Identities that never finished a round are pruned this long after they were last seen (default 7 days). */
  readonly clientRetentionMs?: number;
  readonly pruneIntervalMs?: number;
  /** Where the gateway counts (to read them from outside); default: its own. */
  readonly counters?: GatewayCounters;
  /** The clock of the per-minute caps and the strike windows (tests). */
  readonly now?: () => number;
  /** Dropped-message logs: at most one summary line per kind per this interval (default 10 s). */
  readonly logIntervalMs?: number;
  /**
   * Behind a reverse proxy: take each client's address from the X-Forwarded-For entry the proxy appends, so
   * per-address caps hold (otherwise every client is the proxy, on loopback exempt from them).
   */
  readonly trustProxy?: boolean;
}

function isLocalHost(host: string | undefined): boolean {
  const h = (host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '127.0.0.1' || h === '::1' || h.endsWith('.localhost');
}

const issuesOf = (issues: readonly { path: readonly PropertyKey[]; message: string }[]) =>
  issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ');

/** The ack callback a client passed, if any: Socket.IO gives it as the last argument. */
const ackOf = (args: readonly unknown[]): ((answer: unknown) => void) | undefined => {
  const last = args.at(-1);
  return typeof last === 'function' ? (last as (answer: unknown) => void) : undefined;
};

/** The gateway as a Fastify plugin: it attaches to the app's Socket.IO server and logs through the app's logger. */
export async function clientGatewayPlugin(app: FastifyInstance, opts: GatewayOptions): Promise<void> {
  const gateway = attachClientGateway(opts.io, opts.manager, opts.store, app.log, opts);
  const pruning = startPruning({
    store: opts.store,
    retentionMs: opts.clientRetentionMs ?? DEFAULT_CLIENT_RETENTION_MS,
    intervalMs: opts.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS,
    connected: gateway.connected,
    log: app.log,
    onPruned: (n) => {
      gateway.counters.pruned += n;
    },
  });
  app.addHook('preClose', async () => {
    pruning.stop();
    gateway.droppedLog.close();
  });
}

export interface ClientGateway {
  readonly counters: GatewayCounters;
  readonly droppedLog: DroppedLog;
  /** The client identities with a session now. */
  connected(): Iterable<string>;
}

export function attachClientGateway(io: Server, manager: RunBackend, store: Store, log: Logger, opts: GatewayOptions): ClientGateway {
  const sockets = new Map<string, Socket>();
  /** The sessions that said `ready`, as the run was told of them (a new leader of a cluster is told again). */
  const readySessions = new Map<string, ClientConnection>();
  manager.on('reannounce', () => {
    for (const c of readySessions.values()) manager.clientConnected(c);
  });
  /** The data each session joined for (its hello ack's dataKey), ready or not. */
  const joinedFor = new Map<string, string>();
  // A run on other data: every session that joined for something else, ready or not, is told to rejoin (a new
  // hello) for the run's — the one place that says so; RunManager only keeps such clients unselectable.
  manager.on('event', (e: CoordinatorEvent) => {
    if (e.type !== 'run' || (e.state !== 'running' && e.state !== 'paused')) return;
    const key = manager.currentData().key;
    for (const [id, k] of joinedFor) if (k !== key) sockets.get(id)?.emit(EVENTS.status, { ...manager.status(id), dataKey: key });
  });
  const limits = resolveLimits(opts.limits);
  const now = opts.now ?? Date.now;
  const counters = opts.counters ?? new GatewayCounters();
  const droppedLog = new DroppedLog(log, opts.logIntervalMs ?? 10_000);
  const perAddress = new Map<string, number>();
  const newSessions = new SlidingWindow(MINUTE_MS, limits.maxNewSessionsPerIpPerMinute + 1, now);
  const resumes = new SlidingWindow(MINUTE_MS, limits.maxResumesPerMinute + 1, now);
  const maxStrikeLimit = Math.max(limits.maxStrikes, ...Object.values(limits.strikeLimits));
  const helloQueue = new SerialQueue();

  // The active run's `access.enrollment`, read from its stored config once per run.
  let runAccess: { runId: string; enrollment: boolean } | null = null;
  const runEnrollment = async (): Promise<boolean> => {
    const runId = manager.activeRunId();
    if (!runId) return false;
    if (runAccess?.runId !== runId) {
      const config = (await store.run(runId))?.config;
      runAccess = { runId, enrollment: Boolean(config && storedRunConfig(config).access?.enrollment) };
    }
    return runAccess.enrollment;
  };

  io.of(CLIENT_NAMESPACE).on('connection', (socket) => {
    const peer = clientAddress(socket.handshake.address ?? '', socket.handshake.headers['x-forwarded-for'], opts.trustProxy ?? false);
    const address = addressKey(peer);
    const capped = limits.limitLoopback || !isLoopback(peer);
    let clientId: string | null = null;
    let miniClients = 1;
    let dataKey = '';
    let ready = false;
    let hellos = 0;
    let closed = false;
    let counted = false;
    // An honest client sends 5 SecAgg messages a round, a few progress reports a second and `ready` once a join.
    const secaggLimiter = new RateLimiter(20, 10);
    const reportLimiter = new RateLimiter(20, 5);
    // A progress report over the limit is only dropped: an honest client with short rounds sends a few more
    // than the limit (encoding, SecAgg, done: ~4 a round), and must not be closed for it. A flood still is:
    // every REPORT_DROPS_PER_STRIKE-th dropped report is one rate-limit strike.
    let reportsDropped = 0;
    const readyLimiter = new RateLimiter(5, 1);
    // A probe comes after two silent attempts: an honest client answers a handful in a run.
    const livenessLimiter = new RateLimiter(3, 0.2);
    const strikes = new SlidingWindow(limits.strikeWindowMs, maxStrikeLimit, now);

    /** Closes the connection with a reason the client is told (`bye`), and counts why. */
    const close = (why: CloseReason, reason: string) => {
      if (closed) return;
      closed = true;
      counters.closed[why]++;
      socket.emit(EVENTS.bye, { reason });
      socket.disconnect(true);
    };

    // Caps on connections: refused before anything else happens.
    if (counters.connections >= limits.maxConnections) {
      droppedLog.hit('refused', 'refused a client connection: the connection cap is reached', { max: limits.maxConnections });
      return close('max-connections', `the coordinator is full (${limits.maxConnections} connections): try again later`);
    }
    if (capped && (perAddress.get(address) ?? 0) >= limits.maxConnectionsPerIp) {
      droppedLog.hit('refused', 'refused a client connection: too many from one address', { address, max: limits.maxConnectionsPerIp });
      return close(
        'max-connections-per-ip',
        `too many connections from your address (at most ${limits.maxConnectionsPerIp}): close other clients and try again`,
      );
    }
    counted = true;
    counters.connections++;
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);

    const helloTimer = setTimeout(() => {
      if (!clientId) close('hello-timeout', `no hello within ${HELLO_TIMEOUT_MS / 1000} s`);
    }, HELLO_TIMEOUT_MS);

    /**
     * A dropped or refused message: one strike of its class, logged in a summary, its reason told to the
     * sender through `answer` (its ack); too many strikes in the window and the connection is closed.
     */
    const strike = (cls: LimitedClass, event: string, reason: string, answer?: (reason: string) => void, logged = true) => {
      counters.strikes[cls]++;
      if (logged) droppedLog.hit(cls, `dropped a client message: ${reason}`, { clientId, socket: socket.id, event });
      answer?.(reason);
      const ofClass = strikes.hit(cls);
      const all = strikes.hit('*');
      if (ofClass >= limits.strikeLimits[cls] || all >= limits.maxStrikes) {
        close('strikes', `too many invalid messages (${ofClass} ${cls} of ${all} within ${Math.round(limits.strikeWindowMs / 1000)} s)`);
      }
    };
    const refuse = (ack: ((answer: unknown) => void) | undefined) => (ack ? (reason: string) => ack({ ok: false, reason }) : undefined);

    const requireSession = (event: string, ack: ((answer: unknown) => void) | undefined): string | null => {
      if (clientId) return clientId;
      counters.strikes['before-hello']++;
      droppedLog.hit('before-hello', 'message before hello: disconnecting an unknown session', { socket: socket.id, event });
      ack?.({ ok: false, reason: 'unknown session: send hello first' });
      close('unknown-session', 'unknown session: send hello first');
      return null;
    };

    /**
     * Every client event's handler runs guarded: an exception (a store error such as SQLITE_BUSY or a full disk,
     * or a bug) is logged and answered through the ack with the reason — it never escapes into Socket.IO, where
     * it would take the coordinator down. `hello` answers `{ok: false, error}`, the other events `{ok: false, reason}`.
     */
    const on = (event: string, handler: (...args: unknown[]) => void | Promise<void>) =>
      socket.on(event, (...args: unknown[]) => {
        const failed = (e: unknown) => {
          log.error({ clientId, socket: socket.id, event, err: (e as Error).stack }, `handling ${event} failed`);
          const ack = args.at(-1);
          const why = event === EVENTS.hello ? 'the coordinator could not store the session: try again shortly' : 'the coordinator failed to handle it';
          if (typeof ack === 'function') ack(event === EVENTS.hello ? { ok: false, error: why } : { ok: false, reason: why });
          else if (event === EVENTS.hello) socket.emit(EVENTS.hello, { ok: false, error: why } satisfies HelloAck);
        };
        try {
          handler(...args)?.catch(failed);
        } catch (e) {
          failed(e);
        }
      });

    // Where the coordinator hands out data shards, hellos run one at a time on this node: each reads the shard
    // table and then writes it (store calls may answer over a socket, and two hellos must not both take the same
    // free shard; across nodes the store's unique shard key refuses the second, and it chooses again). Clients
    // that bring their own data take no shard, and their hellos run side by side.
    on(EVENTS.hello, (payload: unknown, ack?: unknown) =>
      manager.currentData().mode === 'local' ? onHello(payload, ack) : helloQueue.run(() => onHello(payload, ack)),
    );

    async function onHello(payload: unknown, ack?: unknown): Promise<void> {
      const reply = (r: HelloAck) => (typeof ack === 'function' ? ack(r) : socket.emit(EVENTS.hello, r));
      const refuseHello = (error: string) => reply({ ok: false, error });
      if (clientId) return strike('repeated-hello', EVENTS.hello, 'hello already received on this connection', refuseHello);
      const parsed = helloSchema.safeParse(payload);
      if (!parsed.success) {
        return strike('schema', EVENTS.hello, issuesOf(parsed.error.issues), () =>
          refuseHello(`invalid hello: ${parsed.error.issues[0]?.message ?? 'malformed'}`),
        );
      }
      // A malformed hello is not a hello (it is a schema strike): a client may correct it once.
      if (++hellos > limits.maxHellosPerConnection) {
        return strike('repeated-hello', EVENTS.hello, `more than ${limits.maxHellosPerConnection} hello(s) on this connection: open a new one`, refuseHello);
      }
      const hello = parsed.data;
      if (hello.miniClients > opts.maxMiniClients) {
        return strike('mini-clients', EVENTS.hello, `at most ${opts.maxMiniClients} mini-clients per connection`, refuseHello);
      }
      let id: string;
      let token: string;
      let resumed = false;
      let shards: number[] | null;
      const runData = manager.currentData();
      const known = hello.resume ? await store.client(hello.resume.clientId) : undefined;
      if (hello.resume) {
        if (!known || !sameSecret(hashToken(hello.resume.sessionToken), known.token_hash)) {
          droppedLog.hit('unknown-session', 'hello with an unknown session: disconnecting', { socket: socket.id, claimed: hello.resume.clientId });
          reply({ ok: false, error: 'unknown session: forget the stored identity and say hello again' });
          return close('unknown-session', 'unknown session');
        }
        // Counted only once the token matched: nobody else can lock an identity out by resuming it.
        const n = resumes.hit(known.id);
        if (n > limits.maxResumesPerMinute) {
          const reason = `resuming too often (more than ${limits.maxResumesPerMinute} times a minute): wait a minute before reconnecting`;
          counters.strikes['resume-loop']++;
          droppedLog.hit('resume-loop', `refused a client: ${reason}`, { clientId: known.id, socket: socket.id });
          refuseHello(reason);
          return close('resume-loop', reason);
        }
        id = known.id;
        token = hello.resume.sessionToken;
        resumed = true;
        // Its own shards again, where it still holds them; none when clients bring their own data.
        shards = runData.mode === 'local' ? [] : await assign(id, hello.miniClients, await store.shardsOf(id));
      } else {
        // Every attempt counts, admitted or not: guessing join codes costs as much as making identities.
        if (capped && newSessions.hit(address) > limits.maxNewSessionsPerIpPerMinute) {
          droppedLog.hit('refused', 'refused a new client: too many new identities from one address', { address, max: limits.maxNewSessionsPerIpPerMinute });
          const reason = `too many new clients from your address (at most ${limits.maxNewSessionsPerIpPerMinute} a minute): try again in a minute`;
          refuseHello(reason);
          return close('sessions-per-ip', reason);
        }
        id = randomToken(12);
        token = randomToken(24);
        shards = runData.mode === 'local' ? [] : await assign(id, hello.miniClients, []);
      }
      if (!shards) {
        log.warn({ socket: socket.id, miniClients: hello.miniClients }, 'hello refused: every data shard is held by a connected client');
        return refuseHello(`no free data shard for ${hello.miniClients} mini-client(s): all ${runData.demo.shards} are held by connected clients`);
      }
      // Redeemed last, once nothing else can refuse the hello: a refused client keeps its code.
      if (!resumed && (opts.enrollment || (await runEnrollment()))) {
        const why = await redeemJoinCode(store, hello.joinCode, id);
        if (why) return strike('join-code', EVENTS.hello, why, refuseHello);
      }
      for (let attempt = 1; ; attempt++) {
        try {
          await store.upsertClientWithShards(
            { id, token_hash: hashToken(token), name: hello.name ?? null, mini_clients: hello.miniClients, shards },
            runData.demo.shards,
          );
          break;
        } catch (e) {
          // A cluster's other node gave one of these free shards away meanwhile: choose again (twice at most).
          if (!(e instanceof ShardTakenError) || attempt >= 3) throw e;
          const again = await assign(id, hello.miniClients, resumed ? await store.shardsOf(id) : []);
          if (!again)
            return refuseHello(`no free data shard for ${hello.miniClients} mini-client(s): all ${runData.demo.shards} are held by connected clients`);
          shards = again;
        }
      }
      // Gone while its session was stored: nothing to take over (its disconnect found no identity to release).
      if (closed || socket.disconnected) return;
      const previous = sockets.get(id);
      clearTimeout(helloTimer);
      clientId = id;
      // The new connection takes the identity before the old one closes: the old one's disconnect is then no
      // departure of the party (the round in progress keeps it, and its `ready` repeats what it missed).
      sockets.set(id, socket);
      // A cluster's leader reaches this session through its room, whichever node holds the socket.
      void socket.join(clientRoom(id));
      if (previous && previous.id !== socket.id) {
        previous.emit(EVENTS.bye, { reason: 'replaced by a newer connection of the same client' });
        previous.disconnect(true);
      }
      counters.sessions = sockets.size;
      const secure = opts.secure || isLocalHost(socket.handshake.headers.host);
      reply({
        ok: true,
        clientId: id,
        sessionToken: token,
        resumed,
        shards,
        // The route's path up to the index, which the client appends.
        shardUrl: routePath(operatorRoutes.shard, { task: runData.demo.description.name, index: '' }),
        task: runData.demo.description.name,
        data: runData.mode,
        dataKey: runData.key,
        runId: manager.activeRunId(),
        insecureContext: !secure,
      });
      log.info({ clientId: id, resumed, miniClients: hello.miniClients, backend: hello.backend }, 'client checked in');
      miniClients = hello.miniClients;
      dataKey = runData.key;
      joinedFor.set(id, dataKey);
    }

    // A client is selectable only once it has its data.
    on(EVENTS.ready, (...args: unknown[]) => {
      const ack = ackOf(args);
      const id = requireSession(EVENTS.ready, ack);
      if (!id) return;
      if (!readyLimiter.allow()) return strike('rate-limit', EVENTS.ready, 'rate limit exceeded', refuse(ack));
      ack?.({ ok: true });
      if (ready) return;
      ready = true;
      const connection: ClientConnection = { clientId: id, miniClients, dataKey, send: (event, p) => socket.emit(event, p) };
      readySessions.set(id, connection);
      manager.clientConnected(connection);
    });

    /**
     * k shards for identity `id`: first those of `keep` (the shards it held) that no other identity holds, then
     * the lowest free ones. A shard is a data index (mod the task's shard count), held by at most one identity:
     * the assignment is in SQLite (store.shard_assignments), so a restart never hands one out twice. Only when
     * every shard is held are the shards of identities not connected now taken, least recently seen first (such
     * an identity gets new shards if it returns). Null when even that leaves fewer than k.
     */
    async function assign(id: string, k: number, keep: readonly number[]): Promise<number[] | null> {
      const total = manager.currentData().demo.shards;
      const holders = new Map<number, { client_id: string; last_seen: number }[]>();
      for (const a of await store.shardAssignments()) {
        if (a.client_id === id) continue;
        const list = holders.get(a.shard % total) ?? [];
        list.push(a);
        holders.set(a.shard % total, list);
      }
      const out: number[] = [];
      const take = (s: number) => {
        if (out.length < k && !out.includes(s)) out.push(s);
      };
      for (const s of keep) if (Number.isInteger(s) && s >= 0 && s < total && !holders.has(s)) take(s);
      for (let s = 0; s < total && out.length < k; s++) if (!holders.has(s)) take(s);
      if (out.length < k) {
        const lastSeen = (list: readonly { last_seen: number }[]) => Math.max(...list.map((h) => h.last_seen));
        const idle = [...holders].filter(([, list]) => list.every((h) => !sockets.has(h.client_id)));
        for (const [s] of idle.sort(([, a], [, b]) => lastSeen(a) - lastSeen(b))) take(s);
      }
      return out.length === k ? out : null;
    }

    on(EVENTS.secagg, (payload: unknown, ...rest: unknown[]) => {
      const ack = ackOf(rest);
      const id = requireSession(EVENTS.secagg, ack);
      if (!id) return;
      if (!secaggLimiter.allow()) return strike('rate-limit', EVENTS.secagg, 'rate limit exceeded', refuse(ack));
      let message: unknown;
      try {
        message = unpack(payload);
      } catch (e) {
        return strike('schema', EVENTS.secagg, e instanceof EnvelopeError ? e.message : 'malformed envelope', refuse(ack));
      }
      const parsed = secaggEnvelopeFromClient.safeParse(message);
      if (!parsed.success) return strike('schema', EVENTS.secagg, `schema: ${issuesOf(parsed.error.issues)}`, refuse(ack));
      const { json, bin } = payload as { json: string; bin: Uint8Array };
      // The ack tells the client its message was taken (or why not) once the round has handled it.
      manager
        .onSecAgg(id, parsed.data.roundId, parsed.data.message, json.length + bin.length)
        .then((refused) => {
          ack?.(refused === null ? { ok: true } : { ok: false, reason: refused });
          if (refused === null || closed) return;
          // Logged here, in rate-limited summaries, never a line per message. A late message is a strike (a
          // replay of old rounds is a flood); the round's own refusals the run engine counts per party.
          if (/is not in progress/.test(refused)) strike('wrong-round', EVENTS.secagg, refused);
          else
            droppedLog.hit('refused', `refused a SecAgg message: ${refused.replace(/client [A-Za-z0-9_-]{8,}/g, 'client …')}`, {
              clientId: id,
              socket: socket.id,
            });
        })
        .catch((e) => log.error({ clientId: id, err: (e as Error).stack }, 'SecAgg message handling failed'));
    });

    on(EVENTS.report, (payload: unknown, ...rest: unknown[]) => {
      const ack = ackOf(rest);
      const id = requireSession(EVENTS.report, ack);
      if (!id) return;
      if (!reportLimiter.allow()) {
        counters.reportsDropped++;
        if (++reportsDropped % REPORT_DROPS_PER_STRIKE === 0) return strike('rate-limit', EVENTS.report, 'rate limit exceeded', refuse(ack));
        return refuse(ack)?.('rate limit exceeded');
      }
      const parsed = reportSchema.safeParse(payload);
      if (!parsed.success) return strike('schema', EVENTS.report, `schema: ${issuesOf(parsed.error.issues)}`, refuse(ack));
      ack?.({ ok: true });
      manager.onReport(id, parsed.data);
    });

    // The echo of a liveness probe (the run engine checks the nonce).
    on(EVENTS.liveness, (payload: unknown, ...rest: unknown[]) => {
      const ack = ackOf(rest);
      const id = requireSession(EVENTS.liveness, ack);
      if (!id) return;
      if (!livenessLimiter.allow()) return strike('rate-limit', EVENTS.liveness, 'rate limit exceeded', refuse(ack));
      const parsed = livenessSchema.safeParse(payload);
      if (!parsed.success) return strike('schema', EVENTS.liveness, `schema: ${issuesOf(parsed.error.issues)}`, refuse(ack));
      ack?.({ ok: true });
      manager.onLiveness(id, parsed.data.nonce);
    });

    socket.onAny((event: string, ...args: unknown[]) => {
      // Known: an event this connection has a handler for (a handler added for a new event counts at once).
      if (RESERVED_EVENTS.has(event) || socket.listenerCount(event) === 0)
        strike('unknown-event', String(event).slice(0, 64), 'unknown event', refuse(ackOf(args)));
    });

    socket.on('disconnect', (reason) => {
      clearTimeout(helloTimer);
      if (counted) {
        counters.connections--;
        const n = (perAddress.get(address) ?? 1) - 1;
        if (n > 0) perAddress.set(address, n);
        else perAddress.delete(address);
      }
      if (clientId && sockets.get(clientId) === socket) {
        sockets.delete(clientId);
        joinedFor.delete(clientId);
        counters.sessions = sockets.size;
        readySessions.delete(clientId);
        if (ready) manager.clientDisconnected(clientId);
        // Retention counts from when it left; a closed store means the coordinator is shutting down.
        store.touchClient(clientId).catch(() => undefined);
        log.info({ clientId, reason }, 'client disconnected');
      }
    });
  });

  return { counters, droppedLog, connected: () => sockets.keys() };
}
