/**
 * The operator's HTTP API (for the dashboard and scripts) and the live Socket.IO namespace /v1/operator, as an
 * encapsulated Fastify plugin. Routes, their parameters, bodies and responses come from the route table of
 * @hushfl/protocol (operatorApi.ts): requests are validated and JSON responses serialized with its zod
 * schemas, so nothing the contract does not declare goes out. Every operator route requires
 * `Authorization: Bearer <token>`; client routes (shard download) require the client's session instead.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, onRequestHookHandler } from 'fastify';
import type { Server } from 'socket.io';
import {
  apiErrorSchema,
  ConfigError,
  OPERATOR_NAMESPACE,
  operatorRoutes,
  RUN_ACTIONS,
  vectorBytes,
  type ApiSchema,
  type ModelHeadersInput,
  type OperatorRoute,
  type RouteBody,
  type RouteParams,
  type RouteResponseInput,
  type Forecast,
  type NodeInfo,
  type RunConfig,
  type Status,
} from '@hushfl/protocol';
import { type DdgPlan, runSecAggSummary, runStrategySummary } from '@hushfl/engine';
import { hashToken, sameSecret } from './auth.ts';
import { issueJoinCodes } from './invites.ts';
import { originAllowed } from './origins.ts';
import { useZod } from './zodRoutes.ts';
import type { CoordinatorEvent } from './runManager.ts';
import { localNodeInfo } from './nodeInfo.ts';
import { storedRunConfig } from './runPersistence.ts';
import type { Store } from './store.ts';
import type { RunData } from './taskCache.ts';

/** What the operator API needs of the run manager. */
export interface OperatorBackend {
  status(): Status;
  activeRunId(): string | null;
  readonly connectedCount: number;
  /** Rejects when a run is in progress (→ 409). */
  createRun(config: RunConfig): Promise<string>;
  /** The config's utility forecast (throws ConfigError for a config a new run would refuse → 400). */
  forecast(config: RunConfig): Promise<Forecast>;
  /** Each throws (or rejects with) an Error with a message when the run is not the active one (→ 409). */
  pause(id: string): void | Promise<void>;
  resume(id: string): void | Promise<void>;
  stop(id: string): void | Promise<void>;
  /** server_metrics.json of a run, or null when this coordinator has none (a cluster's leader writes it). */
  metricsDocument(id: string): Promise<Buffer | null>;
  latestModel(id: string): Promise<{ round: number; weights: Float32Array } | undefined>;
  currentData(): Pick<RunData, 'mode' | 'demo'>;
  on(event: 'event', listener: (e: CoordinatorEvent) => void): unknown;
}

export interface OperatorApiOptions {
  readonly io: Server;
  readonly manager: OperatorBackend;
  readonly store: Store;
  readonly operatorToken: string;
  /** Where devices reach the client page (joinUrls.ts); known once the server listens. */
  readonly joinUrls?: () => string[];
  /** This process's role and memory (GET /api/node). */
  readonly nodeInfo?: () => NodeInfo;
  /**
   * Pages of these origins (`--allowed-origin`) may fetch their client's demo shards (CORS): a site embedding
   * the SDK on another origin joins demo runs too. Checked as the client socket's origin is (origins.ts).
   */
  readonly allowedOrigins?: readonly string[];
  readonly secure?: boolean;
}

type RouteTypes<R extends OperatorRoute> = { Params: RouteParams<R>; Body: RouteBody<R> };
/** A handler returns its route's JSON response (before the schema parses it), or the reply it sent itself. */
type Handler<R extends OperatorRoute> = (req: FastifyRequest<RouteTypes<R>>, reply: FastifyReply) => Promise<RouteResponseInput<R> | FastifyReply>;

/** The Fastify schema of a route: its params and body, its JSON success response and its error bodies. */
/** A run row as the API shows it: its plan, SecAgg guarantee and strategy beside the row. */
function runSummaryOf<R extends { dim: number }>(row: R, config: RunConfig, plan: DdgPlan) {
  return { ...row, ddg: plan, secagg: runSecAggSummary(config), strategy: runStrategySummary(config, plan, row.dim) };
}

function schemaOf(r: OperatorRoute): FastifySchema {
  const response: Record<number, ApiSchema> = {};
  // Downloads and binary bodies go out as bytes; only JSON answers pass the serializer.
  if (r.response && !r.download && !r.binary) response[r.status] = r.response;
  for (const code of r.errors) response[code] = apiErrorSchema;
  return { ...(r.params ? { params: r.params } : {}), ...(r.body ? { body: r.body } : {}), response };
}

function route<R extends OperatorRoute>(
  scope: FastifyInstance,
  r: R,
  handler: Handler<R>,
  options: { bodyLimit?: number; onRequest?: onRequestHookHandler } = {},
): void {
  scope.route<RouteTypes<R>>({ method: r.method, url: r.path, schema: schemaOf(r), ...options, handler });
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function operatorApiPlugin(app: FastifyInstance, o: OperatorApiOptions): Promise<void> {
  const { manager, store, operatorToken } = o;
  const joinUrls = o.joinUrls ?? (() => []);
  useZod(app);

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

  route(app, operatorRoutes.health, async () => ({ ok: true as const }));

  app.register(async (ops) => {
    ops.addHook('onRequest', guard);

    route(ops, operatorRoutes.status, async () => manager.status());

    route(ops, operatorRoutes.join, async () => ({ urls: joinUrls() }));

    route(ops, operatorRoutes.node, async () => o.nodeInfo?.() ?? localNodeInfo(o.store.kind, manager.connectedCount));

    route(ops, operatorRoutes.runs, async () =>
      (await store.runs()).map(({ config, ddg, ...r }) => runSummaryOf(r, storedRunConfig(config), JSON.parse(ddg) as DdgPlan)),
    );

    route(
      ops,
      operatorRoutes.createRun,
      async (req, reply) => {
        try {
          const runId = await manager.createRun(req.body);
          reply.code(201);
          return { runId };
        } catch (e) {
          // A task config that does not fit its task (taskConfigProblems) is the caller's error, named per key.
          if (e instanceof ConfigError) return reply.code(400).send({ error: e.message, issues: e.issues });
          return reply.code(409).send({ error: messageOf(e) });
        }
      },
      { bodyLimit: 1 << 20 },
    );

    route(
      ops,
      operatorRoutes.forecast,
      async (req, reply) => {
        try {
          return await manager.forecast(req.body);
        } catch (e) {
          if (e instanceof ConfigError) return reply.code(400).send({ error: e.message, issues: e.issues });
          throw e;
        }
      },
      { bodyLimit: 1 << 20 },
    );

    route(ops, operatorRoutes.run, async (req, reply) => {
      const row = await store.run(req.params.id);
      if (!row) return notFound(reply, 'run');
      const config = storedRunConfig(row.config);
      return { ...runSummaryOf(row, config, JSON.parse(row.ddg) as DdgPlan), config, live: manager.activeRunId() === row.id ? manager.status() : null };
    });

    route(ops, operatorRoutes.rounds, async (req, reply) => {
      const { id } = req.params;
      if (!(await store.run(id))) return notFound(reply, 'run');
      return Promise.all(
        (await store.rounds(id)).map(async (r) => ({
          ...r,
          durations: JSON.parse(r.durations),
          dropped: JSON.parse(r.dropped),
          participants: (await store.participants(id, r.round)).filter((p) => p.attempt === r.attempt),
          stages: (await store.stageEvents(id, r.round)).filter((e) => e.attempt === r.attempt),
        })),
      );
    });

    route(ops, operatorRoutes.metrics, async (req, reply) => {
      const doc = await manager.metricsDocument(req.params.id);
      if (!doc) return notFound(reply, 'metrics');
      return reply.type('application/json').header('content-disposition', `attachment; filename="${operatorRoutes.metrics.download}"`).send(doc);
    });

    route(ops, operatorRoutes.model, async (req, reply) => {
      const { id } = req.params;
      const row = await store.run(id);
      const model = row && (await manager.latestModel(id));
      if (!row || !model) return notFound(reply, 'model');
      const { binary } = operatorRoutes.model;
      const headers: ModelHeadersInput = {
        'x-hushfl-round': String(model.round),
        'x-hushfl-dim': String(model.weights.length),
        'x-hushfl-model': JSON.stringify(storedRunConfig(row.config).task.model),
      };
      return reply
        .type(binary.contentType)
        .header('content-disposition', `attachment; filename="${id}-round${model.round}.f32"`)
        .headers(headers)
        .send(Buffer.from(vectorBytes(model.weights)));
    });

    // Single-use join codes for `access: { enrollment: true }`: shown once, stored hashed (invites.ts).
    route(ops, operatorRoutes.invites, async (req, reply) => {
      reply.code(201);
      return { codes: await issueJoinCodes(store, req.body.count) };
    });

    for (const action of RUN_ACTIONS) {
      route(ops, operatorRoutes[action], async (req, reply) => {
        try {
          await manager[action](req.params.id);
          return { ok: true as const, status: manager.status() };
        } catch (e) {
          return reply.code(409).send({ error: messageOf(e) });
        }
      });
    }
  });

  // A client downloads its own shards: session required (checked before the index is), and only the shards
  // assigned to it.
  const sessionClients = new WeakMap<FastifyRequest, { shards: number[] }>();
  /** CORS for a page of an allowed other origin (its errors too, so the page can read them). */
  const corsFor = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const origin = req.headers.origin;
    if (!origin || !o.allowedOrigins?.length || !originAllowed(origin, req.headers.host, o.allowedOrigins, o.secure ?? false)) return false;
    reply.header('access-control-allow-origin', origin).header('vary', 'origin');
    return true;
  };
  // The preflight of a cross-origin GET with the session header.
  app.options(operatorRoutes.shard.path, async (req, reply) => {
    if (!corsFor(req, reply)) return reply.code(403).send({ error: 'this origin may not fetch shards (hushfl start --allowed-origin)' });
    return reply
      .code(204)
      .header('access-control-allow-methods', 'GET')
      .header('access-control-allow-headers', 'x-hushfl-session')
      .header('access-control-max-age', '600')
      .send();
  });
  const clientSession: onRequestHookHandler = async (req, reply) => {
    corsFor(req, reply);
    const session = /^([A-Za-z0-9_-]{8,64}):([A-Za-z0-9_-]{16,128})$/.exec(String(req.headers['x-hushfl-session'] ?? ''));
    const client = session ? await store.client(session[1]!) : undefined;
    if (!session || !client || !sameSecret(hashToken(session[2]!), client.token_hash)) {
      await reply.code(401).send({ error: 'client session required: X-Hushfl-Session: <clientId>:<sessionToken>' });
      return;
    }
    sessionClients.set(req, client);
  };
  route(
    app,
    operatorRoutes.shard,
    async (req, reply) => {
      const { task, index } = req.params;
      const data = manager.currentData();
      if (task !== data.demo.description.name) return notFound(reply, `task ${task}`);
      if (data.mode === 'local')
        return reply.code(409).send({ error: `the run trains on data on each device (data: local): the coordinator serves no ${task} shards` });
      if (!sessionClients.get(req)?.shards.includes(index)) return reply.code(403).send({ error: `shard ${index} is not assigned to this client` });
      return reply
        .type(operatorRoutes.shard.binary.contentType)
        .header('cache-control', 'no-store')
        .send(Buffer.from(data.demo.shardBytes(index)));
    },
    { onRequest: clientSession },
  );

  // Live events for operators.
  const ops = o.io.of(OPERATOR_NAMESPACE);
  ops.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown })?.token;
    if (typeof token === 'string' && sameSecret(token, operatorToken)) next();
    else next(new Error('operator token required'));
  });
  ops.on('connection', (socket) => socket.emit('status', manager.status()));
  // To this node's operator sockets only: on a cluster every node hears the leader's events and tells its own.
  manager.on('event', (e: CoordinatorEvent) => {
    if (e.type === 'round') {
      const { mean: _mean, included: _included, ...publicSummary } = e;
      ops.local.emit('round', publicSummary);
    } else ops.local.emit(e.type, e);
  });
}
