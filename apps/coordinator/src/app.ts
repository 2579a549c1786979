/**
 * createCoordinator: the Fastify app with Socket.IO attached — storage, run manager, client gateway,
 * operator API and static pages — on an embedded SQLite file under the data directory. Serves HTTPS when
 * given a certificate and key; says clearly when browsers elsewhere would lack WebCrypto over plain HTTP.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Server } from 'socket.io';
import { FEDERATED_METRICS, nextPowerOfTwo } from '@hushfl/ddp';
import { initNodeTf } from '@hushfl/node';
import { findTask, modelDimension, taskShape } from '@hushfl/tasks';
import type { RunConfig } from '@hushfl/protocol';
import { checkOperatorToken, randomToken } from './auth.ts';
import { clientGatewayPlugin } from './gateway.ts';
import { GatewayCounters, type GatewayLimitsInput, type GatewayStats } from './gatewayLimits.ts';
import { type HttpRateLimitOptions, registerHttpRateLimit } from './httpRateLimit.ts';
import { joinUrls } from './joinUrls.ts';
import { operatorApiPlugin } from './operatorApi.ts';
import { enginePlugin, storePlugin } from './lifecycle.ts';
import { checkAllowedOrigins, clientOriginPlugin } from './origins.ts';
import { pagesPlugin } from './pages.ts';
import { redactingLoggerOptions } from './redact.ts';
import { RunManager } from './runManager.ts';
import type { ClusterBackend } from './cluster/clusterBackend.ts';
import { type ClusterNodeOptions, joinCluster } from './cluster/joinCluster.ts';
import { memoryMb } from './nodeInfo.ts';
import { openStore } from './openStore.ts';
import type { RunBackend } from './runBackend.ts';
import type { SqliteStore } from './sqliteStore.ts';
import type { Store } from './store.ts';

/** The DDG dimension a coordinator takes by default: 2^20 (a masked vector of 4 MiB). */
export const DEFAULT_MAX_MODEL_DIM = 1 << 20;
export interface CoordinatorOptions {
  /** 0 picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** SQLite file, metrics and checkpoints live here (default ./data). */
  readonly dataDir?: string;
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Operator bearer token; default $HUSHFL_OPERATOR_TOKEN, else a random one (printed at start). */
  readonly operatorToken?: string;
  /** Start this run unless an interrupted one is resumed. */
  readonly runConfig?: RunConfig;
  readonly logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
  /**
   * Largest DDG dimension (model weights plus metric coordinates) a client may upload a masked vector for
   * (sizes maxHttpBufferSize; default DEFAULT_MAX_MODEL_DIM). Larger runs are refused at creation.
   */
  readonly maxModelDim?: number;
  /**
   * How long a client's socket may go without answering the heartbeat before it is closed (Socket.IO's
   * pingTimeout; default 20 000 ms, pings every 10 s). A device busy with its own SecAgg work still answers in
   * time; a load generator running a thousand clients on the coordinator's own cores needs longer.
   */
  readonly pingTimeoutMs?: number;
  readonly maxMiniClients?: number;
  /** The built web app to serve (default: apps/web/dist). */
  readonly webRoot?: string;
  /**
   * Origins (`https://app.example.com`, or `*` for any) whose pages may connect to /v1/clients besides the
   * coordinator's own; connections without an Origin header (Node clients) are always let in (origins.ts).
   */
  readonly allowedOrigins?: readonly string[];
  /** Where log lines go (tests read them); default stdout, or $HUSHFL_LOG_FILE. */
  readonly logStream?: { write(line: string): void };
  /** Caps and strike limits of the client gateway (gatewayLimits.ts DEFAULT_GATEWAY_LIMITS for the rest). */
  readonly gatewayLimits?: GatewayLimitsInput;
  /** `{ enrollment: true }`: every new client needs a join code (POST /api/invites), with or without a run. */
  readonly access?: { readonly enrollment?: boolean };
  /** Identities that never finished a round are pruned this long after they were last seen (default 7 days). */
  readonly clientRetentionMs?: number;
  /** Requests per address per window on every HTTP route (httpRateLimit.ts; loopback exempt unless limitLoopback). */
  readonly httpRateLimit?: HttpRateLimitOptions;
  /**
   * Behind one reverse proxy: client addresses come from the X-Forwarded-For entry it appends (Fastify's
   * trustProxy of one hop, and the gateway's), so per-address limits hold. Only with a proxy that sets it.
   */
  readonly trustProxy?: boolean;
  /** A postgres:// URL: runs, rounds, the ledger, checkpoints and identities in Postgres (a cluster); default SQLite under dataDir. */
  readonly store?: string;
  /** redis://…: run as a node of a cluster sharing this Redis and the Postgres `store` (cluster/joinCluster.ts). */
  readonly cluster?: ClusterNodeOptions;
}

export interface Coordinator {
  readonly app: FastifyInstance;
  readonly io: Server;
  readonly manager: RunManager;
  readonly store: Store;
  /** This node's part in a cluster (null on one machine): whether it leads, its takeovers. */
  readonly cluster: ClusterBackend | null;
  /** The embedded SQLite database (null on Postgres): for tests and tools that read it directly. */
  readonly sqlite: SqliteStore | null;
  readonly url: string;
  readonly operatorToken: string;
  /** Warnings shown at start-up (for example: plain HTTP on a network address). */
  readonly warnings: readonly string[];
  /** What the client gateway counted: connections, strikes by class, closed connections by reason, pruned identities. */
  gatewayStats(): GatewayStats;
  close(): Promise<void>;
}

export async function createCoordinator(options: CoordinatorOptions = {}): Promise<Coordinator> {
  const dataDir = resolve(options.dataDir ?? 'data');
  const host = options.host ?? '127.0.0.1';
  const operatorToken = options.operatorToken ?? process.env.HUSHFL_OPERATOR_TOKEN ?? randomToken(24);
  checkOperatorToken(
    operatorToken,
    options.operatorToken !== undefined ? '--operator-token' : process.env.HUSHFL_OPERATOR_TOKEN !== undefined ? '$HUSHFL_OPERATOR_TOKEN' : 'operator token',
  );
  const allowedOrigins = checkAllowedOrigins(options.allowedOrigins ?? [], '--allowed-origin');
  const tls = options.tls ? { cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) } : undefined;
  await initNodeTf();
  const destination = options.logStream ? { stream: options.logStream } : process.env.HUSHFL_LOG_FILE ? { file: process.env.HUSHFL_LOG_FILE } : {};
  const app = Fastify({
    // Tokens in URLs and secret headers are redacted from every line (redact.ts).
    logger: { level: options.logLevel ?? 'info', ...destination, ...redactingLoggerOptions },
    bodyLimit: 1 << 20,
    // One trusted hop: req.ip is the address the proxy appended to X-Forwarded-For, as the gateway reads it.
    ...(options.trustProxy ? { trustProxy: (_address: string, hop: number) => hop === 0 } : {}),
    ...(tls ? { https: tls } : {}),
  }) as unknown as FastifyInstance;
  // An empty JSON body (a bare POST /api/runs/:id/pause from a script) is an empty object, not an error.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch {
      done(Object.assign(new Error('request body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });
  // The largest message is a masked vector: 4 bytes per padded coordinate, plus framing. A run whose padded
  // dimension exceeds what the sockets take is refused when it is created (RunManager), never left to fail.
  const dim = Math.max(
    options.maxModelDim ?? DEFAULT_MAX_MODEL_DIM,
    options.runConfig ? modelDimension(options.runConfig.task.model, taskShape(findTask(options.runConfig.task.name))) + FEDERATED_METRICS : 0,
  );
  const maxDimPadded = nextPowerOfTwo(dim);
  const maxHttpBufferSize = Math.ceil(4 * maxDimPadded * 1.25) + (1 << 20);
  const { store, sqlite } = await openStore(dataDir, options.store);
  const manager = new RunManager(store, join(dataDir, 'runs'), app.log, maxDimPadded);
  await manager.load();

  const io = new Server(app.server, {
    maxHttpBufferSize,
    serveClient: false,
    cors: { origin: false },
    pingInterval: 10_000,
    pingTimeout: options.pingTimeoutMs ?? 20_000,
  });
  // Before any route: every route registered after it is limited.
  await registerHttpRateLimit(app, options.httpRateLimit);
  // The plugin tree, in one place. Each plugin is encapsulated and gets the services it uses as options.
  await app.register(storePlugin, { store });
  const cluster = options.cluster
    ? await joinCluster({ ...options.cluster, io, manager, store, log: app.log, ...(options.runConfig ? { runConfig: options.runConfig } : {}) })
    : null;
  // What the gateway and the operator API drive: the run manager, or on a cluster the node's backend.
  const backend: RunBackend = cluster?.backend ?? manager;
  await app.register(enginePlugin, { manager, io, cluster });
  // Before the gateway: a socket from a page of another site never reaches its `connection` handler.
  await app.register(clientOriginPlugin, { io, allowedOrigins, secure: Boolean(tls) });
  const gatewayCounters = new GatewayCounters();
  await app.register(clientGatewayPlugin, {
    io,
    manager: backend,
    store,
    maxMiniClients: options.maxMiniClients ?? options.runConfig?.maxMiniClients ?? 16,
    secure: Boolean(tls),
    counters: gatewayCounters,
    trustProxy: options.trustProxy ?? false,
    enrollment: options.access?.enrollment ?? false,
    ...(options.gatewayLimits ? { limits: options.gatewayLimits } : {}),
    ...(options.clientRetentionMs !== undefined ? { clientRetentionMs: options.clientRetentionMs } : {}),
  });
  await app.register(operatorApiPlugin, {
    io,
    manager: backend,
    store,
    operatorToken,
    joinUrls: () => joinUrls(tls ? 'https' : 'http', host, (app.server.address() as AddressInfo).port),
    nodeInfo: () => ({
      node: cluster?.backend.nodeId ?? null,
      leader: cluster ? cluster.backend.isLeader : true,
      takeovers: cluster?.backend.takeovers ?? 0,
      store: store.kind,
      sessions: gatewayCounters.stats().sessions,
      ...memoryMb(),
    }),
    allowedOrigins,
    secure: Boolean(tls),
  });
  await app.register(pagesPlugin, options.webRoot ? { root: options.webRoot } : {});

  await app.listen({ port: options.port ?? 8080, host });
  const port = (app.server.address() as AddressInfo).port;
  const scheme = tls ? 'https' : 'http';
  const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const warnings: string[] = [];
  if (!tls && host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') {
    warnings.push(
      `serving plain HTTP on ${host}: browsers on other devices get no WebCrypto outside a secure context and cannot join. ` +
        'Give --tls-cert and --tls-key to serve HTTPS.',
    );
  }
  for (const w of warnings) app.log.warn(w);

  if (cluster) await cluster.start();
  else {
    const resumed = await manager.resumeInterrupted();
    if (!resumed.length && options.runConfig) await manager.createRun(options.runConfig);
  }

  let closing: Promise<void> | undefined;
  return {
    app,
    io,
    manager,
    store,
    sqlite,
    cluster: cluster?.backend ?? null,
    url,
    operatorToken,
    warnings,
    gatewayStats: () => gatewayCounters.stats(),
    // preClose shuts the run and Socket.IO down, onClose closes the store (lifecycle.ts).
    close: () => (closing ??= app.close()),
  };
}
