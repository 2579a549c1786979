/** `hushfl start`: the coordinator (client gateway, operator API, pages) on an embedded SQLite file, or on Postgres (--store). */
import { DEFAULT_MAX_MODEL_DIM, checkAllowedOrigins, createCoordinator, isPostgresUrl, loadRunConfigFile } from '@hushfl/coordinator';
import { ConfigError, type RunConfig } from '@hushfl/protocol';
import { UsageError, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';
import { startClientPool } from '@hushfl/node-client';

const flags = {
  config: { kind: 'string', help: 'run configuration (YAML or JSON) to start unless an interrupted run is resumed' },
  port: { kind: 'int', help: 'port (default 8080; 0 picks a free one)', range: 'in [0, 65535]', ok: (v: number) => v >= 0 && v <= 65535 },
  host: { kind: 'string', help: 'address to listen on (default 127.0.0.1; 0.0.0.0 for phones on the network, with TLS)' },
  data: { kind: 'string', help: 'data directory for the SQLite file, metrics and checkpoints (default ./data)' },
  store: {
    kind: 'string',
    help: 'postgres://user@host:port/db: keep runs, rounds, the ledger, checkpoints and client identities in Postgres instead of the SQLite file (metrics stay under --data)',
  },
  redis: {
    kind: 'string',
    help: 'redis://host:port: run as one node of a cluster sharing this Redis and the --store Postgres (one node leads the run, the others hold clients and forward)',
  },
  'node-id': { kind: 'string', help: "this cluster node's name in logs and the lease (default: host name, pid and a random suffix)" },
  'leader-lease-ms': {
    kind: 'int',
    help: 'the leader lease ttl: a dead leader is replaced within about 4/3 of it; keep it above the longest event-loop stall of a busy leader (default 10000)',
    range: 'in [300, 600000]',
    ok: (v: number) => v >= 300 && v <= 600_000,
  },
  'ping-timeout-ms': {
    kind: 'int',
    help: "how long a client's socket may leave the heartbeat unanswered before it is closed (default 20000; a load generator sharing the coordinator's cores needs more)",
    range: 'in [1000, 600000]',
    ok: (v: number) => v >= 1000 && v <= 600_000,
  },
  'tls-cert': { kind: 'string', help: 'TLS certificate (PEM) to serve HTTPS' },
  'tls-key': { kind: 'string', help: 'TLS private key (PEM)' },
  'operator-token': { kind: 'string', help: 'operator bearer token (default $HUSHFL_OPERATOR_TOKEN or a random one)' },
  'allowed-origin': {
    kind: 'list',
    help: "another origin whose pages may connect clients (https://app.example.com, or * for any; repeat or comma-separate); default: the coordinator's own pages only",
  },
  'trust-proxy': {
    kind: 'bool',
    help: 'behind one reverse proxy that sets X-Forwarded-For: per-address limits use the address it forwards (only with such a proxy)',
  },
  'max-model-dim': {
    kind: 'int',
    help: `largest model a run may have, in weights (plus 6 federated-metric coordinates): sizes the client socket buffers (default ${DEFAULT_MAX_MODEL_DIM}; a larger run is refused when created)`,
    range: 'in [1024, 67108864]',
    ok: (v: number) => v >= 1024 && v <= 2 ** 26,
  },
  'demo-devices': {
    kind: 'int',
    help: 'simulated devices to start beside the coordinator: Node clients in worker threads on this machine, each with its own keys and demo shard (default 0; npm start: 200)',
    range: 'in [0, 2000]',
    ok: (v: number) => v >= 0 && v <= 2000,
  },
  'log-level': { kind: 'string', help: 'fatal | error | warn | info | debug (default info)' },
  json: { kind: 'bool', help: 'print the start-up details as JSON' },
} as const satisfies FlagSpecs;

export const startCommand: Command<typeof flags> = {
  name: 'start',
  summary: 'start the coordinator (and resume an interrupted run)',
  flags,
  async run(f, io) {
    if (Boolean(f['tls-cert']) !== Boolean(f['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together');
    const levels = ['fatal', 'error', 'warn', 'info', 'debug'] as const;
    const level = (f['log-level'] ?? 'info') as (typeof levels)[number];
    if (!levels.includes(level)) throw new UsageError(`--log-level must be one of ${levels.join(', ')}, got '${f['log-level']}'`);
    const allowedOrigins = f['allowed-origin'];
    try {
      checkAllowedOrigins(allowedOrigins, '--allowed-origin');
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (f.store !== undefined && !isPostgresUrl(f.store)) throw new UsageError(`--store must be a postgres:// or postgresql:// URL, got '${f.store}'`);
    if (f.redis !== undefined && !/^rediss?:\/\//.test(f.redis)) throw new UsageError(`--redis must be a redis:// or rediss:// URL, got '${f.redis}'`);
    if (f.redis !== undefined && f.store === undefined) throw new UsageError('--redis needs --store postgres://…: the nodes of a cluster share one Postgres');
    if (f.redis === undefined && (f['node-id'] !== undefined || f['leader-lease-ms'] !== undefined))
      throw new UsageError('--node-id and --leader-lease-ms go with --redis');
    let runConfig: RunConfig | undefined;
    try {
      runConfig = f.config ? loadRunConfigFile(f.config) : undefined;
    } catch (e) {
      throw new UsageError(`--config: ${e instanceof ConfigError ? e.message : (e as Error).message}`);
    }
    const c = await createCoordinator({
      port: f.port ?? 8080,
      host: f.host ?? '127.0.0.1',
      dataDir: f.data ?? 'data',
      ...(f.store !== undefined ? { store: f.store } : {}),
      ...(f.redis !== undefined
        ? {
            cluster: {
              redis: f.redis,
              ...(f['node-id'] !== undefined ? { nodeId: f['node-id'] } : {}),
              ...(f['leader-lease-ms'] !== undefined ? { leaseMs: f['leader-lease-ms'] } : {}),
            },
          }
        : {}),
      ...(f['tls-cert'] ? { tls: { cert: f['tls-cert'], key: f['tls-key']! } } : {}),
      ...(f['operator-token'] ? { operatorToken: f['operator-token'] } : {}),
      ...(allowedOrigins.length ? { allowedOrigins } : {}),
      ...(f['trust-proxy'] ? { trustProxy: true } : {}),
      ...(f['max-model-dim'] !== undefined ? { maxModelDim: f['max-model-dim'] } : {}),
      ...(f['ping-timeout-ms'] !== undefined ? { pingTimeoutMs: f['ping-timeout-ms'] } : {}),
      ...(runConfig ? { runConfig } : {}),
      logLevel: level,
    });
    const devices = f['demo-devices'] ?? 0;
    // Simulated devices (issue 16 §2): a population to select from, so one tab joins a federation that learns.
    const pool =
      devices > 0
        ? startClientPool({
            url: c.url,
            clients: devices,
            miniClients: 1,
            dropout: 0,
            reportClipped: false,
            namePrefix: 'demo',
            insecureTls: Boolean(f['tls-cert']),
          })
        : null;
    if (pool) {
      try {
        await pool.ready;
      } catch (e) {
        await pool.stop();
        await c.close();
        throw new Error(`the demo devices could not join: ${(e as Error).message}`);
      }
      c.manager.simulatedDevices = devices;
    }
    const info = {
      url: c.url,
      operatorToken: c.operatorToken,
      run: c.manager.activeRunId(),
      simulatedDevices: devices,
      warnings: c.warnings,
      ...(c.cluster ? { node: c.cluster.nodeId, leader: c.cluster.isLeader } : {}),
    };
    io.out(
      f.json
        ? `${JSON.stringify(info)}\n`
        : [
            `hushfl coordinator listening on ${c.url}`,
            `  clients join at       ${c.url}/`,
            `  operator dashboard    ${c.url}/dashboard`,
            `  operator token        ${c.operatorToken}`,
            `  active run            ${info.run ?? 'none (POST a config to /api/runs, or restart with --config)'}`,
            ...(devices > 0 ? [`  simulated devices     ${devices} Node clients in worker threads on this machine (--demo-devices 0: none)`] : []),
            `  simulate Node clients npm run hushfl -- simulate --url ${c.url} --token=${c.operatorToken} --clients 10 --rounds 5 --max-colluders 1`,
            ...c.warnings.map((w) => `  warning: ${w}`),
            '',
          ].join('\n'),
    );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    io.err('shutting down…\n');
    await pool?.stop();
    await c.close();
    return { json: null, text: '', code: 0, silent: true };
  },
};
