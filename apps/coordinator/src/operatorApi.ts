/**
 * The operator's HTTP API (for the dashboard and scripts) and the live Socket.IO namespace /v1/operator.
 * Every operator route requires `Authorization: Bearer <token>`; client routes (shard download) require the
 * client's session instead.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import type { Server } from 'socket.io';
import { ConfigError, OPERATOR_NAMESPACE, parseRunConfig, vectorBytes, type RunConfig } from '@hushfl/protocol';
import { hashToken, sameSecret } from './auth.ts';
import type { CoordinatorEvent, RunManager } from './runManager.ts';
import type { Store } from './store.ts';

const runIdParam = { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } }, required: ['id'] } as const;

export function registerOperatorApi(
  app: FastifyInstance,
  io: Server,
  manager: RunManager,
  store: Store,
  operatorToken: string,
  /** Where devices reach the client page (joinUrls.ts); known once the server listens. */
  joinUrls: () => string[] = () => [],
): void {
  const authorized = (header: string | undefined) => {
    const m = /^Bearer (.+)$/.exec(header ?? '');
    return Boolean(m && sameSecret(m[1]!, operatorToken));
  };
  const guard = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!authorized(req.headers.authorization)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'operator token required: Authorization: Bearer <token>' });
    }
  };
  const notFound = (reply: FastifyReply, what: string) => reply.code(404).send({ error: `${what} not found` });

  app.get('/api/health', async () => ({ ok: true, clientsConnected: manager.connectedCount, activeRun: manager.activeRunId() }));

  app.register(async (ops) => {
    ops.addHook('onRequest', guard);

    ops.get('/api/status', async () => manager.status());

    ops.get('/api/join', async () => ({ urls: joinUrls() }));

    ops.get('/api/runs', async () => store.runs().map(({ config: _c, ddg, ...r }) => ({ ...r, ddg: JSON.parse(ddg) })));

    ops.post('/api/runs', { bodyLimit: 1 << 20 }, async (req, reply) => {
      let config: RunConfig;
      try {
        config = parseRunConfig(req.body);
      } catch (e) {
        if (e instanceof ConfigError) return reply.code(400).send({ error: e.message, issues: e.issues });
        throw e;
      }
      try {
        return reply.code(201).send({ runId: await manager.createRun(config) });
      } catch (e) {
        return reply.code(409).send({ error: (e as Error).message });
      }
    });

    ops.get('/api/runs/:id', { schema: { params: runIdParam } }, async (req, reply) => {
      const row = store.run((req.params as { id: string }).id);
      if (!row) return notFound(reply, 'run');
      return { ...row, config: JSON.parse(row.config), ddg: JSON.parse(row.ddg), live: manager.activeRunId() === row.id ? manager.status() : null };
    });

    ops.get('/api/runs/:id/rounds', { schema: { params: runIdParam } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      if (!store.run(id)) return notFound(reply, 'run');
      return store.rounds(id).map((r) => ({
        ...r,
        durations: JSON.parse(r.durations),
        dropped: JSON.parse(r.dropped),
        participants: store.participants(id, r.round).filter((p) => p.attempt === r.attempt),
        stages: store.stageEvents(id, r.round).filter((e) => e.attempt === r.attempt),
      }));
    });

    ops.get('/api/runs/:id/metrics', { schema: { params: runIdParam } }, async (req, reply) => {
      const path = manager.metricsPath((req.params as { id: string }).id);
      if (!existsSync(path)) return notFound(reply, 'metrics');
      return reply.type('application/json').header('content-disposition', 'attachment; filename="server_metrics.json"').send(readFileSync(path));
    });

    ops.get('/api/runs/:id/model', { schema: { params: runIdParam } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const row = store.run(id);
      const model = row && manager.latestModel(id);
      if (!row || !model) return notFound(reply, 'model');
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${id}-round${model.round}.f32"`)
        .header('x-hushfl-round', String(model.round))
        .header('x-hushfl-dim', String(model.weights.length))
        .header('x-hushfl-model', JSON.stringify(JSON.parse(row.config).task.model))
        .send(Buffer.from(vectorBytes(model.weights)));
    });

    for (const action of ['pause', 'resume', 'stop'] as const) {
      ops.post(`/api/runs/:id/${action}`, { schema: { params: runIdParam } }, async (req, reply) => {
        const { id } = req.params as { id: string };
        try {
          manager[action](id);
          return { ok: true, status: manager.status() };
        } catch (e) {
          return reply.code(409).send({ error: (e as Error).message });
        }
      });
    }
  });

  // A client downloads its own shards: session required, and only the shards assigned to it.
  app.get('/api/tasks/mnist/shards/:index', async (req, reply) => {
    const index = Number((req.params as { index: string }).index);
    const session = /^([A-Za-z0-9_-]{8,64}):([A-Za-z0-9_-]{16,128})$/.exec(String(req.headers['x-hushfl-session'] ?? ''));
    const client = session ? store.client(session[1]!) : undefined;
    if (!session || !client || !sameSecret(hashToken(session[2]!), client.token_hash)) {
      return reply.code(401).send({ error: 'client session required: X-Hushfl-Session: <clientId>:<sessionToken>' });
    }
    if (!Number.isInteger(index) || !client.shards.includes(index))
      return reply.code(403).send({ error: `shard ${String(req.params)} is not assigned to this client` });
    return reply
      .type('application/octet-stream')
      .header('cache-control', 'no-store')
      .send(Buffer.from(manager.currentTask().shardBytes(index)));
  });

  // Live events for operators.
  const ops = io.of(OPERATOR_NAMESPACE);
  ops.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown })?.token;
    if (typeof token === 'string' && sameSecret(token, operatorToken)) next();
    else next(new Error('operator token required'));
  });
  ops.on('connection', (socket) => socket.emit('status', manager.status()));
  manager.on('event', (e: CoordinatorEvent) => {
    if (e.type === 'round') {
      const { mean: _mean, included: _included, ...publicSummary } = e;
      ops.emit('round', publicSummary);
    } else ops.emit(e.type, e);
  });
}
