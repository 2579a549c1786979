/**
 * The operator API plugin on its own, through app.inject (no port): a fake run manager behind the plugin's
 * interface and a real Store on a temporary SQLite file. Checks the contract of packages/protocol's route
 * table from the server's side: auth, validation naming the field, 409s, bodies that are exactly what the
 * schemas declare, and the binary model route.
 */
import { chooseSecAggParams } from '@hushfl/secagg';
import type { DemoTask } from '@hushfl/tasks';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Fastify from 'fastify';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  apiErrorSchema,
  forecastSchema,
  f32FromBytes,
  healthSchema,
  joinUrlsSchema,
  modelHeadersSchema,
  OPERATOR_NAMESPACE,
  operatorRoutes,
  parseRunConfig,
  routePath,
  type RunConfig,
  type Status,
} from '@hushfl/protocol';
import { hashToken } from './auth.ts';
import { forecastRun } from './forecastRun.ts';
import { operatorApiPlugin, type OperatorBackend } from './operatorApi.ts';
import type { CoordinatorEvent } from './runManager.ts';
import { SqliteStore } from './sqliteStore.ts';
import { asyncStore } from './store.ts';

const TOKEN = 'routes-test-operator-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const CONFIG = { secagg: { maxColluders: 1 }, rounds: 3, minClients: 4, selection: { clientsPerRound: 4 }, ddg: { bits: 16, epsilon: 8 } };
const PLAN = {
  params: { dim: 3, clip: 1, gamma: 1e-3, beta: 0.6, bits: 16, localStddev: 0.01 },
  epsilonBudget: 8,
  delta: 1e-5,
  sampleRate: 1,
  dimPadded: 4,
};

/** The run manager as the plugin sees it: one active run at a time, runs written to the real Store. */
class FakeManager extends EventEmitter implements OperatorBackend {
  active: string | null = null;
  connectedCount = 2;
  /** Something the contract does not declare: it must not reach a response. */
  extra: Record<string, unknown> = { secret: 'not for the wire' };
  readonly models = new Map<string, { round: number; weights: Float32Array }>();
  private runs = 0;

  constructor(
    private readonly store: SqliteStore,
    private readonly dir: string,
  ) {
    super();
  }

  status(): Status {
    const status: Status = {
      runId: this.active,
      state: this.active ? 'running' : 'idle',
      round: 0,
      rounds: 3,
      epsilon: null,
      epsilonBudget: 8,
      delta: 1e-5,
      clientsConnected: 2,
    };
    return Object.assign(status, this.extra);
  }

  activeRunId(): string | null {
    return this.active;
  }

  forecast(config: RunConfig) {
    return forecastRun(config, Number.POSITIVE_INFINITY);
  }

  async createRun(config: RunConfig): Promise<string> {
    if (this.active) throw new Error(`run ${this.active} is in progress: stop it before starting another`);
    const id = `run-test-${++this.runs}`;
    this.store.createRun({
      id,
      name: config.name,
      config: JSON.stringify(config),
      state: 'running',
      created_at: Date.now(),
      dim: 3,
      ddg: JSON.stringify(PLAN),
    });
    this.active = id;
    return id;
  }

  private requireActive(id: string): void {
    if (this.active !== id) throw new Error(`run ${id} is not active`);
  }

  pause(id: string): void {
    this.requireActive(id);
    this.store.setRunState(id, 'paused');
  }

  // Asynchronous like the real manager's: a rejection is a 409 as a throw is.
  async resume(id: string): Promise<void> {
    this.requireActive(id);
    this.store.setRunState(id, 'running');
  }

  stop(id: string): void {
    this.requireActive(id);
    this.store.setRunState(id, 'stopped', 'stopped by the operator');
    this.active = null;
  }

  metricsPath(id: string): string {
    return join(this.dir, 'runs', id, 'server_metrics.json');
  }

  async metricsDocument(id: string): Promise<Buffer | null> {
    return existsSync(this.metricsPath(id)) ? readFileSync(this.metricsPath(id)) : null;
  }

  async latestModel(id: string) {
    return this.models.get(id);
  }

  /** The data mode is the test's to set: demo shards [i, 7, 7] of the mnist task. */
  dataMode: 'demo' | 'local' = 'demo';
  currentData() {
    return { mode: this.dataMode, demo: { description: { name: 'mnist' }, shardBytes: (i: number) => new Uint8Array([i, 7, 7]) } as unknown as DemoTask };
  }

  emitEvent(e: CoordinatorEvent): void {
    this.emit('event', e);
  }
}

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'hushfl-routes-'));
  const store = new SqliteStore(join(dir, 'hushfl.db'));
  const manager = new FakeManager(store, dir);
  // Not attached to an HTTP server: the namespace and its events exist, nothing listens (nothing to close).
  const io = new Server();
  const app = Fastify({ logger: false });
  await app.register(operatorApiPlugin, { io, manager, store: asyncStore(store), operatorToken: TOKEN, joinUrls: () => ['http://10.0.0.2:8080/'] });
  await app.ready();
  open.push(async () => {
    await app.close();
    store.close();
  });
  const createRun = async () => {
    const res = await app.inject({ method: 'POST', url: '/api/runs', headers: auth, payload: CONFIG });
    expect(res.statusCode).toBe(201);
    return operatorRoutes.createRun.response.parse(res.json()).runId;
  };
  return { app, io, store, manager, createRun };
}

/** The body parses with the schema and nothing else is in it. */
function exactly(schema: { parse(v: unknown): unknown }, body: unknown) {
  expect(schema.parse(body)).toEqual(body);
}

describe('operator routes (inject)', () => {
  it('require the operator token (401 with www-authenticate), except health', async () => {
    const { app } = await setup();
    // Every operator route of the contract, so a route added later is covered too.
    const guarded = Object.values(operatorRoutes).filter((r) => r.auth === 'operator');
    expect(guarded.length).toBeGreaterThanOrEqual(6);
    for (const [method, url] of guarded.map((r) => [r.method, routePath(r, { id: 'run-1' })] as const)) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }]) {
        const res = await app.inject({ method, url, headers });
        expect(res.statusCode, `${method} ${url}`).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
        expect(apiErrorSchema.parse(res.json()).error).toMatch(/operator token required/);
      }
    }
    const health = await app.inject({ url: '/api/health' });
    expect(health.statusCode).toBe(200);
    exactly(healthSchema, health.json());
    // Without a token it tells nothing about clients or runs (issue 13 §4).
    expect(health.json()).toEqual({ ok: true });
  });

  it('refuse a bad run config with 400 naming each field, as parseRunConfig does', async () => {
    const { app, store } = await setup();
    const bad = { secagg: { maxColluders: 1 }, rounds: 2, minClients: 4, ddg: { bits: 99, epsilon: 1 }, nonsense: 1 };
    const res = await app.inject({ method: 'POST', url: '/api/runs', headers: auth, payload: bad });
    expect(res.statusCode).toBe(400);
    const body = apiErrorSchema.parse(res.json());
    expect(body.issues?.map((i) => i.path).sort()).toEqual(['', 'ddg.bits']);
    expect(() => parseRunConfig(bad)).toThrow(body.error);
    expect(body.error).toMatch(/^ddg\.bits: |; ddg\.bits: /);

    const missing = await app.inject({ method: 'POST', url: '/api/runs', headers: auth, payload: { minClients: 4, ddg: { epsilon: 1 } } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ issues: [{ path: 'rounds' }] });
    expect(store.runs()).toHaveLength(0);
  });

  it("forecast a config without starting it: the released mean's noise against the clip; 400 for one a run would refuse", async () => {
    const { app, store } = await setup();
    const config = {
      secagg: { maxColluders: 1 },
      rounds: 20,
      minClients: 10,
      selection: { clientsPerRound: 10 },
      task: { model: { kind: 'mlp', hidden: [64] } },
      ddg: { bits: 16, clip: 1, epsilon: 8 },
    };
    const res = await app.inject({ method: 'POST', url: '/api/forecast', headers: auth, payload: config });
    expect(res.statusCode).toBe(200);
    const f = forecastSchema.parse(res.json());
    exactly(forecastSchema, res.json());
    expect(f.dim).toBe(784 * 64 + 64 + 64 * 10 + 10);
    const { localStddev: s, gamma: g } = f.ddg.params;
    expect(f.noiseToClip).toBeCloseTo((Math.sqrt(10 * (s * s + (g * g) / 4)) / 10) * Math.sqrt(f.dim), 9);
    expect(f.verdict).toBe('no-learning');
    expect(f.message).toMatch(/^with n_min = 10 and ε = 8 over 20 rounds the noise norm is \d+× the clip: expect no learning; raise n_min or ε/);
    expect(store.runs()).toHaveLength(0); // nothing started
    const unreachable = await app.inject({ method: 'POST', url: '/api/forecast', headers: auth, payload: { ...config, ddg: { bits: 4, epsilon: 8 } } });
    expect(unreachable.statusCode).toBe(400);
    expect(apiErrorSchema.parse(unreachable.json()).issues?.[0]?.path).toBe('ddg.bits');
    const badModel = await app.inject({
      method: 'POST',
      url: '/api/forecast',
      headers: auth,
      payload: { ...config, task: { name: 'spam', model: { kind: 'cnn', filters: 4, kernel: 5, dense: 0 } } },
    });
    expect(badModel.statusCode).toBe(400);
    expect(badModel.json().error).toMatch(/cnn needs an image input/);
  });

  it('refuse a malformed run id with 400 naming the field', async () => {
    const { app } = await setup();
    for (const url of ['/api/runs/bad%21id', `/api/runs/${'x'.repeat(65)}/rounds`, '/api/runs/a%20b/model', '/api/runs/..%2F..%2Fetc/pause']) {
      const res = await app.inject({ method: url.endsWith('pause') ? 'POST' : 'GET', url, headers: auth });
      expect(res.statusCode, url).toBe(400);
      expect(apiErrorSchema.parse(res.json()).error).toMatch(/^id: must be a run id/);
    }
    expect((await app.inject({ url: '/api/runs/run-none', headers: auth })).json()).toEqual({ error: 'run not found' });
    expect((await app.inject({ url: '/api/runs/run-none/rounds', headers: auth })).statusCode).toBe(404);
  });

  it('answer 409 to a second run and to controlling a run that is not active', async () => {
    const { app, createRun } = await setup();
    const runId = await createRun();
    const again = await app.inject({ method: 'POST', url: '/api/runs', headers: auth, payload: CONFIG });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toEqual({ error: `run ${runId} is in progress: stop it before starting another` });

    for (const action of ['pause', 'resume', 'stop']) {
      const res = await app.inject({ method: 'POST', url: `/api/runs/run-other/${action}`, headers: auth });
      expect(res.statusCode).toBe(409);
      expect(res.json()).toEqual({ error: 'run run-other is not active' });
    }
    const paused = await app.inject({ method: 'POST', url: `/api/runs/${runId}/pause`, headers: auth });
    expect(paused.statusCode).toBe(200);
    exactly(operatorRoutes.pause.response, paused.json());
    expect((await app.inject({ method: 'POST', url: `/api/runs/${runId}/stop`, headers: auth })).statusCode).toBe(200);
    // Stopped: no longer active.
    expect((await app.inject({ method: 'POST', url: `/api/runs/${runId}/stop`, headers: auth })).statusCode).toBe(409);
  });

  it('answer 200 with bodies that are exactly what the schemas declare', async () => {
    const { app, store, createRun } = await setup();
    const runId = await createRun();
    store.startRound({ run_id: runId, round: 0, attempt: 1, selected: 4 });
    store.addParticipants([1, 2, 3, 4].map((i) => ({ run_id: runId, round: 0, attempt: 1, client_id: `client-000${i}`, secagg_id: i, contributions: 1 })));
    store.stageEvent({ run_id: runId, round: 0, attempt: 1, stage: 'advertise-keys', phase: 'open' });
    store.setParticipants(runId, 0, 1, [{ clientId: 'client-0004', status: 'dropped', stage: 'masked-input' }]);
    store.finishRound({
      run_id: runId,
      round: 0,
      attempt: 1,
      state: 'completed',
      contributions: 3,
      accuracy: 0.5,
      loss: 1.2,
      epsilon: 2,
      durations: '{"advertise-keys":12}',
      dropped: '{"client-0004":"masked-input"}',
    });

    const get = (url: string) => app.inject({ url, headers: auth });
    exactly(operatorRoutes.status.response, (await get('/api/status')).json());
    exactly(joinUrlsSchema, (await get('/api/join')).json());
    expect((await get('/api/join')).json()).toEqual({ urls: ['http://10.0.0.2:8080/'] });

    const runs = (await get('/api/runs')).json();
    exactly(operatorRoutes.runs.response, runs);
    expect(runs).toMatchObject([{ id: runId, state: 'running', ddg: PLAN, completed_round: -1 }]);
    // The SecAgg guarantee in force is stated, with k, t and the abort bound for the expected 4 parties.
    const p = chooseSecAggParams(4, { dropoutRate: 0.1, maxColluders: 1 });
    expect(runs[0].secagg).toEqual({
      n: 4,
      guarantee: { kind: 'colluders', maxColluders: 1 },
      dropout: 0.1,
      k: p.neighbours,
      t: p.threshold,
      complete: true,
      abortProbability: p.abortProbability,
      live: p.live,
    });

    const run = (await get(`/api/runs/${runId}`)).json();
    exactly(operatorRoutes.run.response, run);
    expect(run).toMatchObject({ id: runId, config: parseRunConfig(CONFIG), ddg: PLAN, live: { runId, state: 'running' } });

    const rounds = (await get(`/api/runs/${runId}/rounds`)).json();
    exactly(operatorRoutes.rounds.response, rounds);
    expect(rounds).toMatchObject([
      { run_id: runId, round: 0, attempt: 1, state: 'completed', durations: { 'advertise-keys': 12 }, dropped: { 'client-0004': 'masked-input' } },
    ]);
    expect(rounds[0].participants).toHaveLength(4);
    expect(rounds[0].participants[3]).toEqual({
      client_id: 'client-0004',
      attempt: 1,
      secagg_id: 4,
      contributions: 1,
      status: 'dropped',
      dropped_stage: 'masked-input',
    });
    expect(rounds[0].stages).toMatchObject([{ stage: 'advertise-keys', phase: 'open', attempt: 1, detail: null }]);
  });

  it('serialize nothing the contract does not declare', async () => {
    const { app, store, createRun } = await setup();
    const runId = await createRun();
    // A column the contract does not know (a newer store, an internal field).
    store.db.exec("ALTER TABLE runs ADD COLUMN internal TEXT DEFAULT 'internal value'");
    const bodies = await Promise.all(['/api/status', '/api/runs', `/api/runs/${runId}`].map(async (url) => (await app.inject({ url, headers: auth })).body));
    for (const body of bodies) {
      expect(body).not.toContain('secret');
      expect(body).not.toContain('internal');
    }
    // The list leaves each run's config out.
    expect(JSON.parse(bodies[1]!)[0]).not.toHaveProperty('config');
    expect(JSON.parse(bodies[2]!)).toHaveProperty('config');
  });

  it('refuse to send a response that breaks its schema (500)', async () => {
    const { app, manager } = await setup();
    manager.extra = { state: 'bogus' };
    const res = await app.inject({ url: '/api/status', headers: auth });
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('bogus');
  });

  it('serve the model as raw float32 with its round, dimension and spec in headers', async () => {
    const { app, manager, createRun } = await setup();
    const runId = await createRun();
    expect((await app.inject({ url: `/api/runs/${runId}/model`, headers: auth })).json()).toEqual({ error: 'model not found' });
    manager.models.set(runId, { round: 4, weights: new Float32Array([1.5, -2, 0.25]) });
    const res = await app.inject({ url: `/api/runs/${runId}/model`, headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${runId}-round4.f32"`);
    expect(res.headers['x-hushfl-round']).toBe('4');
    expect(res.headers['x-hushfl-dim']).toBe('3');
    expect(modelHeadersSchema.parse(res.headers)).toEqual({ 'x-hushfl-round': 4, 'x-hushfl-dim': 3, 'x-hushfl-model': { kind: 'mlp', hidden: [64] } });
    expect([...f32FromBytes(new Uint8Array(res.rawPayload))]).toEqual([1.5, -2, 0.25]);
  });

  it('serve metrics as a JSON download once written', async () => {
    const { app, manager, createRun } = await setup();
    const runId = await createRun();
    expect((await app.inject({ url: `/api/runs/${runId}/metrics`, headers: auth })).statusCode).toBe(404);
    const path = manager.metricsPath(runId);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify({ run: { id: runId }, rounds: [] }));
    const res = await app.inject({ url: `/api/runs/${runId}/metrics`, headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['content-disposition']).toBe('attachment; filename="server_metrics.json"');
    expect(res.json()).toEqual({ run: { id: runId }, rounds: [] });
  });

  it('serve a client only its own shards, with its session', async () => {
    const { app, store, manager } = await setup();
    const session = 'session-token-0123456789abcdef';
    store.upsertClient({ id: 'client-abcdef', token_hash: hashToken(session), name: null, mini_clients: 2, shards: [3, 5] });
    const shard = (index: string, header?: string) =>
      app.inject({ url: `/api/tasks/mnist/shards/${index}`, headers: header ? { 'x-hushfl-session': header } : {} });
    expect((await shard('3')).statusCode).toBe(401);
    expect((await shard('x')).statusCode).toBe(401); // the session is checked before the index
    expect((await shard('3', `client-abcdef:${'w'.repeat(30)}`)).statusCode).toBe(401);
    expect((await shard('3', `client-abcdef:${session}`)).statusCode).toBe(200);
    const ok = await shard('5', `client-abcdef:${session}`);
    expect(ok.headers['content-type']).toBe('application/octet-stream');
    expect(ok.headers['cache-control']).toBe('no-store');
    expect([...ok.rawPayload]).toEqual([5, 7, 7]);
    expect((await shard('4', `client-abcdef:${session}`)).json()).toEqual({ error: 'shard 4 is not assigned to this client' });
    expect((await shard('4', `client-abcdef:${session}`)).statusCode).toBe(403);
    const malformed = await shard('-1', `client-abcdef:${session}`);
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error).toMatch(/^index: /);
    // Task-generic: another task's shards are not served, and with data: local none are.
    const other = await app.inject({ url: '/api/tasks/spam/shards/3', headers: { 'x-hushfl-session': `client-abcdef:${session}` } });
    expect([other.statusCode, other.json()]).toEqual([404, { error: 'task spam not found' }]);
    manager.dataMode = 'local';
    const local = await shard('3', `client-abcdef:${session}`);
    expect(local.statusCode).toBe(409);
    expect(local.json().error).toMatch(/data: local/);
  });

  it('send live events to the operator namespace, without the decoded mean', async () => {
    const { io, manager } = await setup();
    // To this node's operator sockets (`local`): on a cluster each node tells its own the leader's events.
    const emit = vi.spyOn(Object.getPrototypeOf(io.of(OPERATOR_NAMESPACE).local) as { emit(...a: unknown[]): boolean }, 'emit');
    const summary = {
      runId: 'run-1',
      round: 0,
      attempt: 1,
      status: 'completed' as const,
      accuracy: 0.9,
      loss: 0.3,
      epsilon: 1,
      epsilonVsCoordinator: 1,
      deltaSelection: 0,
      contributors: 4,
      parties: 4,
      selected: 4,
      dropped: {},
      droppedClients: {},
      durationsMs: {},
      bytesUp: 10,
      bytesDown: 20,
      error: null,
    };
    manager.emitEvent({ type: 'round', ...summary, mean: new Float64Array(3), included: ['a'] });
    manager.emitEvent({ type: 'clients', connected: 5 });
    expect(emit.mock.calls).toEqual([
      ['round', { type: 'round', ...summary }],
      ['clients', { type: 'clients', connected: 5 }],
    ]);
  });
});
