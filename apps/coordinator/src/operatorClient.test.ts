/**
 * Both sides of the operator API contract together: the client calls the coordinator's real operator plugin
 * through app.inject (as its fetch function), with a fake run manager and a real Store behind it.
 */
import type { DemoTask } from '@hushfl/tasks';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRunConfig, type RunConfig, type Status } from '@hushfl/protocol';
// The coordinator's side of the contract (a workspace app, not a dependency of this package).
import { forecastRun } from './forecastRun.ts';
import { operatorApiPlugin, type OperatorBackend } from './operatorApi.ts';
import { SqliteStore } from './sqliteStore.ts';
import { asyncStore } from './store.ts';
import { ApiError, OperatorClient, type FetchLike, type FetchLikeResponse } from '@hushfl/operator-client';

const TOKEN = 'client-test-operator-token-0123456789';
const CONFIG = { secagg: { maxColluders: 1 }, rounds: 3, minClients: 4, selection: { clientsPerRound: 4 }, ddg: { bits: 16, epsilon: 8 } };
const PLAN = {
  params: { dim: 3, clip: 1, gamma: 1e-3, beta: 0.6, bits: 16, localStddev: 0.01 },
  epsilonBudget: 8,
  delta: 1e-5,
  sampleRate: 1,
  dimPadded: 4,
};

class FakeManager extends EventEmitter implements OperatorBackend {
  active: string | null = null;
  connectedCount = 1;
  readonly models = new Map<string, { round: number; weights: Float32Array }>();

  constructor(
    private readonly store: SqliteStore,
    private readonly dir: string,
  ) {
    super();
  }

  status(): Status {
    return {
      runId: this.active,
      state: this.active ? 'running' : 'idle',
      round: 0,
      rounds: 3,
      epsilon: null,
      epsilonBudget: 8,
      delta: 1e-5,
      clientsConnected: 1,
    };
  }

  activeRunId() {
    return this.active;
  }

  forecast(config: RunConfig) {
    return forecastRun(config, Number.POSITIVE_INFINITY);
  }

  async createRun(config: RunConfig) {
    if (this.active) throw new Error(`run ${this.active} is in progress: stop it before starting another`);
    this.active = 'run-client-1';
    this.store.createRun({
      id: this.active,
      name: config.name,
      config: JSON.stringify(config),
      state: 'running',
      created_at: 1,
      dim: 3,
      ddg: JSON.stringify(PLAN),
    });
    return this.active;
  }

  private control(id: string, state: 'paused' | 'running' | 'stopped') {
    if (this.active !== id) throw new Error(`run ${id} is not active`);
    this.store.setRunState(id, state);
    if (state === 'stopped') this.active = null;
  }

  pause(id: string) {
    this.control(id, 'paused');
  }

  resume(id: string) {
    this.control(id, 'running');
  }

  stop(id: string) {
    this.control(id, 'stopped');
  }

  metricsPath(id: string) {
    return join(this.dir, 'runs', id, 'server_metrics.json');
  }

  async metricsDocument(id: string): Promise<Buffer | null> {
    return existsSync(this.metricsPath(id)) ? readFileSync(this.metricsPath(id)) : null;
  }

  async latestModel(id: string) {
    return this.models.get(id);
  }

  currentData() {
    return { mode: 'demo' as const, demo: { description: { name: 'mnist' }, shardBytes: () => new Uint8Array(0) } as unknown as DemoTask };
  }
}

/** Fastify's inject as a fetch function. */
function injectFetch(app: FastifyInstance): FetchLike {
  return async (url, init) => {
    const res = await app.inject({ url, method: init.method, headers: init.headers, ...(init.body !== undefined ? { payload: init.body } : {}) });
    return {
      ok: res.statusCode >= 200 && res.statusCode < 300,
      status: res.statusCode,
      statusText: res.statusMessage,
      headers: { get: (name) => (res.headers[name.toLowerCase()] === undefined ? null : String(res.headers[name.toLowerCase()])) },
      json: async () => res.json(),
      arrayBuffer: async () => new Uint8Array(res.rawPayload).buffer,
    };
  };
}

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

async function setup(token = TOKEN) {
  const dir = mkdtempSync(join(tmpdir(), 'hushfl-client-'));
  const store = new SqliteStore(join(dir, 'hushfl.db'));
  const manager = new FakeManager(store, dir);
  const app = Fastify({ logger: false });
  await app.register(operatorApiPlugin, {
    io: new Server(),
    manager,
    store: asyncStore(store),
    operatorToken: TOKEN,
    joinUrls: () => ['https://192.168.1.5:8443/'],
  });
  await app.ready();
  open.push(async () => {
    await app.close();
    store.close();
  });
  return { manager, client: new OperatorClient({ base: 'http://coordinator.test/dashboard/', token, fetch: injectFetch(app) }) };
}

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (!(e instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(e)}`);
  return e;
}

describe('operator client against the operator plugin', () => {
  it('reads status, health, join URLs, runs and rounds as the contract types them', async () => {
    const { client } = await setup();
    expect(await client.health()).toEqual({ ok: true });
    expect((await client.status()).state).toBe('idle');
    expect(await client.joinUrls()).toEqual({ urls: ['https://192.168.1.5:8443/'] });
    expect(await client.runs()).toEqual([]);

    const { runId } = await client.createRun(CONFIG);
    const [summary] = await client.runs();
    expect(summary).toMatchObject({ id: runId, state: 'running', ddg: PLAN, reason: null });
    const run = await client.run(runId);
    expect(run.config).toEqual(parseRunConfig(CONFIG));
    expect(run.config.server.learningRate).toBe(1);
    expect(run.live?.runId).toBe(runId);
    expect(await client.rounds(runId)).toEqual([]);
  });

  it('pauses, resumes and stops; a run that is not active is an ApiError 409 with the reason', async () => {
    const { client } = await setup();
    const { runId } = await client.createRun(CONFIG);
    expect(await refusal(client.createRun(CONFIG))).toMatchObject({ status: 409, message: `run ${runId} is in progress: stop it before starting another` });
    expect((await client.pause(runId)).ok).toBe(true);
    expect((await client.runs())[0]?.state).toBe('paused');
    await client.resume(runId);
    await client.control(runId, 'stop');
    expect((await client.runs())[0]?.state).toBe('stopped');
    expect(await refusal(client.stop(runId))).toMatchObject({ status: 409, message: `run ${runId} is not active` });
  });

  it('turns refusals into ApiError with the coordinator’s message and issues', async () => {
    const { client } = await setup();
    const bad = await refusal(client.createRun({ secagg: { maxColluders: 1 }, rounds: 2, minClients: 4, ddg: { bits: 99, epsilon: 1 } }));
    expect(bad.status).toBe(400);
    expect(bad.message).toMatch(/^ddg\.bits: /);
    expect(bad.issues).toMatchObject([{ path: 'ddg.bits' }]);
    expect(await refusal(client.run('not a run id'))).toMatchObject({ status: 400, message: expect.stringMatching(/^id: /) });
    expect(await refusal(client.run('run-missing'))).toMatchObject({ status: 404, message: 'run not found' });
    expect(await refusal(client.metrics('run-missing'))).toMatchObject({ status: 404, message: 'metrics not found' });

    const stranger = (await setup('wrong-token-0123456789')).client;
    expect(await refusal(stranger.status())).toMatchObject({ status: 401, message: 'operator token required: Authorization: Bearer <token>' });
    expect((await stranger.health()).ok).toBe(true); // health needs no token
  });

  it('downloads the model with its round, dimension and spec, and the metrics file', async () => {
    const { client, manager } = await setup();
    const { runId } = await client.createRun(CONFIG);
    manager.models.set(runId, { round: 2, weights: new Float32Array([0.5, -1, 3]) });
    const model = await client.model(runId);
    expect(model).toMatchObject({ round: 2, dim: 3, spec: { kind: 'mlp', hidden: [64] } });
    expect([...model.weights]).toEqual([0.5, -1, 3]);

    const doc = {
      run: { id: runId, name: 'mnist', createdAt: '2025-01-01T00:00:00.000Z', state: 'running' },
      model: { spec: { kind: 'mlp', hidden: [64] }, dim: 3, dimPadded: 4 },
      privacy: { mechanism: 'ddg', bits: 16, delta: 1e-5, epsilonBudget: 8, clip: 1 },
      config: {},
      rounds: [{ round: 0, attempt: 1, status: 'completed', accuracy: 0.5, loss: 1, epsilon: 2, bytesUp: 9 }],
    };
    const path = manager.metricsPath(runId);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify(doc));
    // A download keeps every field of the file.
    expect(await client.metrics(runId)).toEqual(doc);
  });

  it('refuses a response that breaks the contract', async () => {
    const response = (body: unknown, headers: Record<string, string> = {}): FetchLikeResponse => ({
      ok: true,
      status: 200,
      statusText: 'OK',
      headers: { get: (name) => headers[name] ?? null },
      json: async () => body,
      arrayBuffer: async () => new ArrayBuffer(8),
    });
    const calls: string[] = [];
    let next = response({ runId: null, state: 'exploded' });
    const client = new OperatorClient({
      base: 'https://coordinator.test:8443',
      token: TOKEN,
      fetch: async (url, init) => {
        calls.push(`${init.method} ${url} ${init.headers.authorization}`);
        return next;
      },
    });
    expect((await refusal(client.status())).message).toMatch(/^GET \/api\/status: the response does not match the operator API: state: /);
    expect(calls).toEqual([`GET https://coordinator.test:8443/api/status Bearer ${TOKEN}`]);
    next = response(null, { 'x-hushfl-round': '1', 'x-hushfl-dim': '3', 'x-hushfl-model': '{"kind":"mlp","hidden":[8]}' });
    expect((await refusal(client.model('run-1'))).message).toMatch(/2 weights, but x-hushfl-dim says 3/);
  });
});
