/**
 * The client gateway: the Socket.IO namespace /v1/clients. Every message is checked against its
 * packages/protocol schema at the boundary; sessions are a random client id plus a session token (stored
 * hashed) issued at `hello`; each socket is rate-limited. A bad message is dropped with a logged reason and
 * never reaches the round; an unknown session is disconnected with a reason.
 */
import type { FastifyInstance } from 'fastify';
import type { Server, Socket } from 'socket.io';
import { CLIENT_NAMESPACE, EVENTS, EnvelopeError, helloSchema, reportSchema, secaggEnvelopeFromClient, unpack, type HelloAck } from '@hushfl/protocol';
import { RateLimiter, hashToken, randomToken, sameSecret } from './auth.ts';
import type { Logger, RunManager } from './runManager.ts';
import type { Store } from './store.ts';

const HELLO_TIMEOUT_MS = 15_000;
/** Dropped messages after which a socket is disconnected. */
const MAX_STRIKES = 50;

export interface GatewayOptions {
  readonly io: Server;
  readonly manager: RunManager;
  readonly store: Store;
  readonly maxMiniClients: number;
  readonly secure: boolean;
}

function isLocalHost(host: string | undefined): boolean {
  const h = (host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '127.0.0.1' || h === '::1' || h.endsWith('.localhost');
}

/** The gateway as a Fastify plugin: it attaches to the app's Socket.IO server and logs through the app's logger. */
export async function clientGatewayPlugin(app: FastifyInstance, opts: GatewayOptions): Promise<void> {
  attachClientGateway(opts.io, opts.manager, opts.store, app.log, opts);
}

function attachClientGateway(io: Server, manager: RunManager, store: Store, log: Logger, opts: GatewayOptions): void {
  const sockets = new Map<string, Socket>();

  io.of(CLIENT_NAMESPACE).on('connection', (socket) => {
    let clientId: string | null = null;
    let miniClients = 1;
    let ready = false;
    let strikes = 0;
    // An honest client sends 5 SecAgg messages a round and a few progress reports a second.
    const secaggLimiter = new RateLimiter(20, 10);
    const reportLimiter = new RateLimiter(20, 5);
    const helloTimer = setTimeout(() => {
      if (!clientId) socket.disconnect(true);
    }, HELLO_TIMEOUT_MS);

    const drop = (event: string, reason: string) => {
      strikes++;
      log.warn({ clientId, socket: socket.id, event }, `dropped a client message: ${reason}`);
      if (strikes >= MAX_STRIKES) {
        socket.emit(EVENTS.bye, { reason: `too many invalid messages (${strikes})` });
        socket.disconnect(true);
      }
    };

    const requireSession = (event: string): string | null => {
      if (clientId) return clientId;
      log.warn({ socket: socket.id, event }, 'message before hello: disconnecting an unknown session');
      socket.emit(EVENTS.bye, { reason: 'unknown session: send hello first' });
      socket.disconnect(true);
      return null;
    };

    socket.on(EVENTS.hello, (payload: unknown, ack?: unknown) => {
      const reply = (r: HelloAck) => (typeof ack === 'function' ? ack(r) : socket.emit(EVENTS.hello, r));
      if (clientId) return reply({ ok: false, error: 'hello already received on this connection' });
      const parsed = helloSchema.safeParse(payload);
      if (!parsed.success) {
        drop(EVENTS.hello, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
        return reply({ ok: false, error: `invalid hello: ${parsed.error.issues[0]?.message ?? 'malformed'}` });
      }
      const hello = parsed.data;
      if (hello.miniClients > opts.maxMiniClients) return reply({ ok: false, error: `at most ${opts.maxMiniClients} mini-clients per connection` });
      let id: string;
      let token: string;
      let resumed = false;
      let shards: number[] | null;
      const known = hello.resume ? store.client(hello.resume.clientId) : undefined;
      if (hello.resume) {
        if (!known || !sameSecret(hashToken(hello.resume.sessionToken), known.token_hash)) {
          log.warn({ socket: socket.id, claimed: hello.resume.clientId }, 'hello with an unknown session: disconnecting');
          reply({ ok: false, error: 'unknown session: forget the stored identity and say hello again' });
          socket.emit(EVENTS.bye, { reason: 'unknown session' });
          socket.disconnect(true);
          return;
        }
        id = known.id;
        token = hello.resume.sessionToken;
        resumed = true;
        shards = assign(id, hello.miniClients, store.shardsOf(id)); // its own shards again, where it still holds them
      } else {
        id = randomToken(12);
        token = randomToken(24);
        shards = assign(id, hello.miniClients, []);
      }
      if (!shards) {
        log.warn({ socket: socket.id, miniClients: hello.miniClients }, 'hello refused: every data shard is held by a connected client');
        return reply({
          ok: false,
          error: `no free data shard for ${hello.miniClients} mini-client(s): all ${manager.currentTask().shards} are held by connected clients`,
        });
      }
      store.upsertClientWithShards(
        { id, token_hash: hashToken(token), name: hello.name ?? null, mini_clients: hello.miniClients, shards },
        manager.currentTask().shards,
      );
      const previous = sockets.get(id);
      if (previous && previous.id !== socket.id) {
        previous.emit(EVENTS.bye, { reason: 'replaced by a newer connection of the same client' });
        previous.disconnect(true);
      }
      clearTimeout(helloTimer);
      clientId = id;
      sockets.set(id, socket);
      const secure = opts.secure || isLocalHost(socket.handshake.headers.host);
      reply({
        ok: true,
        clientId: id,
        sessionToken: token,
        resumed,
        shards,
        shardUrl: '/api/tasks/mnist/shards/',
        runId: manager.activeRunId(),
        insecureContext: !secure,
      });
      log.info({ clientId: id, resumed, miniClients: hello.miniClients, backend: hello.backend }, 'client checked in');
      miniClients = hello.miniClients;
    });

    // A client is selectable only once it has its data.
    socket.on(EVENTS.ready, () => {
      const id = requireSession(EVENTS.ready);
      if (!id || ready) return;
      ready = true;
      manager.clientConnected({ clientId: id, miniClients, send: (event, p) => socket.emit(event, p) });
    });

    /**
     * k shards for identity `id`: first those of `keep` (the shards it held) that no other identity holds, then
     * the lowest free ones. A shard is a data index (mod the task's shard count), held by at most one identity:
     * the assignment is in SQLite (store.shard_assignments), so a restart never hands one out twice. Only when
     * every shard is held are the shards of identities not connected now taken, least recently seen first (such
     * an identity gets new shards if it returns). Null when even that leaves fewer than k.
     */
    function assign(id: string, k: number, keep: readonly number[]): number[] | null {
      const total = manager.currentTask().shards;
      const holders = new Map<number, { client_id: string; last_seen: number }[]>();
      for (const a of store.shardAssignments()) {
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

    socket.on(EVENTS.secagg, (payload: unknown, ack?: unknown) => {
      const id = requireSession(EVENTS.secagg);
      if (!id) return;
      if (!secaggLimiter.allow()) return drop(EVENTS.secagg, 'rate limit exceeded');
      let message: unknown;
      try {
        message = unpack(payload);
      } catch (e) {
        return drop(EVENTS.secagg, e instanceof EnvelopeError ? e.message : 'malformed envelope');
      }
      const parsed = secaggEnvelopeFromClient.safeParse(message);
      if (!parsed.success) return drop(EVENTS.secagg, `schema: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const { json, bin } = payload as { json: string; bin: Uint8Array };
      // The optional ack tells the client its message was taken (or why not) once the round has handled it.
      manager
        .onSecAgg(id, parsed.data.roundId, parsed.data.message, json.length + bin.length)
        .then((refused) => {
          if (typeof ack === 'function') ack(refused === null ? { ok: true } : { ok: false, reason: refused });
        })
        .catch((e) => log.error({ clientId: id, err: (e as Error).stack }, 'SecAgg message handling failed'));
    });

    socket.on(EVENTS.report, (payload: unknown) => {
      const id = requireSession(EVENTS.report);
      if (!id) return;
      if (!reportLimiter.allow()) return drop(EVENTS.report, 'rate limit exceeded');
      const parsed = reportSchema.safeParse(payload);
      if (!parsed.success) return drop(EVENTS.report, `schema: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      manager.onReport(id, parsed.data);
    });

    socket.onAny((event: string) => {
      if (event !== EVENTS.hello && event !== EVENTS.ready && event !== EVENTS.secagg && event !== EVENTS.report) drop(event, 'unknown event');
    });

    socket.on('disconnect', (reason) => {
      clearTimeout(helloTimer);
      if (clientId && sockets.get(clientId) === socket) {
        sockets.delete(clientId);
        if (ready) manager.clientDisconnected(clientId);
        log.info({ clientId, reason }, 'client disconnected');
      }
    });
  });
}
