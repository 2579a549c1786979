/**
 * ClientSession over an in-memory transport that plays the coordinator: hello, shards and `ready`; resuming a
 * stored identity; recovery from "unknown session"; incoming messages refused with a reason before any
 * handler sees them; SecAgg acknowledgements.
 */
import { describe, expect, it, vi } from 'vitest';
import { EVENTS, PROTOCOL_VERSION, pack, reportSchema, type TaskMessage } from '@hushfl/protocol';
import { ClientSession, type ClientIdentity, type ClientTransport, type SessionHandlers, type Shard } from './session.ts';

const COORDINATOR = 'http://coordinator.test:8080';

/** The client's end of a connection; `answer` plays the coordinator for events sent with an ack. */
class FakeTransport implements ClientTransport {
  connected = false;
  connects = 0;
  readonly sent: { event: string; payload: unknown }[] = [];
  private readonly handlers = new Map<string, ((payload?: unknown) => void)[]>();

  constructor(private readonly answer: (event: string, payload: unknown) => unknown) {}

  connect(): void {
    if (this.connected) return;
    this.connected = true;
    this.connects++;
    queueMicrotask(() => this.deliver('connect'));
  }

  disconnect(): void {
    if (!this.connected) return;
    this.connected = false;
    this.deliver('disconnect', 'io client disconnect');
  }

  on(event: string, handler: (payload?: unknown) => void): void {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
  }

  emit(event: string, payload?: unknown): void {
    this.sent.push({ event, payload });
  }

  async emitWithAck(event: string, payload: unknown): Promise<unknown> {
    this.sent.push({ event, payload });
    return this.answer(event, payload);
  }

  /** A message from the coordinator. */
  deliver(event: string, payload?: unknown): void {
    for (const h of this.handlers.get(event) ?? []) h(payload);
  }

  events(name: string): unknown[] {
    return this.sent.filter((s) => s.event === name).map((s) => s.payload);
  }
}

function memoryIdentities(initial?: ClientIdentity) {
  let identity = initial;
  let forgotten = 0;
  return {
    store: {
      load: async () => identity,
      save: async (i: ClientIdentity) => {
        identity = i;
      },
      forget: async () => {
        identity = undefined;
        forgotten++;
      },
    },
    current: () => identity,
    forgotten: () => forgotten,
  };
}

const joinedAck = (over: Record<string, unknown> = {}) => ({
  ok: true,
  clientId: 'client-new-0001',
  sessionToken: 'token-new-0123456789',
  resumed: false,
  shards: [3, 7],
  shardUrl: '/api/tasks/mnist/shards/',
  task: 'mnist',
  data: 'demo',
  dataKey: 'demo:mnist:0123456789abcdef',
  runId: null,
  insecureContext: false,
  ...over,
});

const task: TaskMessage = {
  runId: 'run-1',
  round: 0,
  attempt: 1,
  roundId: 'run-1/r0/a1',
  task: 'mnist',
  model: { spec: { kind: 'mlp', hidden: [8] }, weights: new Uint8Array(16) },
  training: { epochs: 1, batchSize: 8, learningRate: 0.1 },
  dpsgd: null,
  ddg: { dim: 4, clip: 1, gamma: 1e-3, beta: 0, bits: 16, localStddev: 0 },
  rotationSeed: new Uint8Array(32),
  secagg: { id: 1, clients: [1, 2, 3], neighbours: 2, threshold: 2, graphCommitment: new Uint8Array(32), dropoutRate: 0.1, corruptRate: 0.1 },
  contributions: 1,
  trainingDeadlineMs: 1000,
};

function setup(
  o: {
    answer?: (event: string, payload: unknown) => unknown;
    identity?: ClientIdentity;
    cached?: number[];
    handlers?: Partial<SessionHandlers>;
    joinRetryMs?: number;
  } = {},
) {
  const transport = new FakeTransport(o.answer ?? ((event) => (event === EVENTS.hello ? joinedAck() : { ok: true })));
  const identities = memoryIdentities(o.identity);
  const downloads: { url: string; headers: Readonly<Record<string, string>> }[] = [];
  const cache = new Map<string, Uint8Array>((o.cached ?? []).map((i) => [`demo:mnist:0123456789abcdef/${i}`, new Uint8Array([i])]));
  const loaded: (readonly Shard[])[] = [];
  const tasks: TaskMessage[] = [];
  const invalid: [string, string][] = [];
  const session = new ClientSession({
    transport,
    identities: identities.store,
    coordinatorUrl: COORDINATOR,
    fetchShard: async (url, headers) => {
      downloads.push({ url, headers });
      return new Uint8Array([Number(url.split('/').at(-1))]);
    },
    shardCache: { get: async (k, i) => cache.get(`${k}/${i}`), put: async (k, i, b) => void cache.set(`${k}/${i}`, b) },
    hello: { miniClients: 2, name: 'test', backend: 'wasm', userAgent: 'vitest' },
    ...(o.joinRetryMs !== undefined ? { joinRetryMs: o.joinRetryMs } : {}),
    handlers: {
      onShardsLoaded: async (shards) => void loaded.push(shards),
      onTask: (t) => void tasks.push(t),
      onSecAgg: () => {},
      onInvalid: (event, reason) => void invalid.push([event, reason]),
      ...o.handlers,
    },
  });
  return { session, transport, identities, downloads, cache, loaded, tasks, invalid };
}

describe('ClientSession', () => {
  it('reports progress without any value computed from the data: the wire schema accepts it, and would refuse those values', async () => {
    const { session, transport } = setup();
    session.start();
    await vi.waitFor(() => expect(transport.events(EVENTS.ready)).toHaveLength(1));
    const local = {
      roundId: 'run-1/r0/a1',
      phase: 'secagg',
      train: { loss: 0.42, accuracy: 0.9, examples: 600, steps: 19, ms: 1234, backend: 'wasm', dpsgdEpsilon: 1.5 },
      encodeMs: 12,
    } as const;
    session.report(local);
    const [sent] = transport.events(EVENTS.report);
    expect(sent).toEqual({ roundId: 'run-1/r0/a1', phase: 'secagg', train: { ms: 1234, backend: 'wasm' }, encodeMs: 12 });
    expect(reportSchema.safeParse(sent).success).toBe(true);
    // The coordinator's schema drops a report carrying them (an old or modified client).
    expect(reportSchema.safeParse(local).success).toBe(false);
  });

  it('tells the coordinator only where a round failed when training or encoding failed: their messages may quote the data', async () => {
    const { session, transport } = setup();
    session.start();
    await vi.waitFor(() => expect(transport.events(EVENTS.ready)).toHaveLength(1));
    const failure = { roundId: 'r', phase: 'failed', error: 'GatherV2: the index value 4123 is not in [0, 4095]' } as const;
    session.report({ ...failure, failedAt: 'training' });
    session.report({ ...failure, roundId: 'r2', failedAt: 'encoding' });
    session.report({ ...failure, roundId: 'r3' });
    session.report({ roundId: 'r4', phase: 'failed', failedAt: 'secagg', error: 'aborts: neighbour 3 fails the PKI check' });
    const errors = (transport.events(EVENTS.report) as { error: string }[]).map((r) => r.error);
    expect(errors).toEqual([
      'local training failed (the reason stays on the device)',
      'encoding the update failed (the reason stays on the device)',
      'the round failed on the client (the reason stays on the device)',
      'aborts: neighbour 3 fails the PKI check',
    ]);
  });

  it('reports training progress in tenths, with no epoch or batch, and never the same report twice in a row', async () => {
    const { session, transport } = setup();
    session.start();
    await vi.waitFor(() => expect(transport.events(EVENTS.ready)).toHaveLength(1));
    // 38 batches of one epoch: exact fractions k/38 (and the batch numbers) would tell the batch count.
    for (let batch = 0; batch < 38; batch++) session.report({ roundId: 'r', phase: 'training', epoch: 0, batch, progress: batch / 38 });
    const sent = transport.events(EVENTS.report) as { progress: number }[];
    expect(sent.map((r) => r.progress)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    for (const r of sent) {
      expect(Object.keys(r).sort()).toEqual(['phase', 'progress', 'roundId']);
      expect(reportSchema.safeParse(r).success).toBe(true);
    }
    expect(reportSchema.safeParse({ roundId: 'r', phase: 'training', progress: 5 / 38 }).success).toBe(false);
    expect(reportSchema.safeParse({ roundId: 'r', phase: 'training', epoch: 1 }).success).toBe(false);
  });

  it('joins again, backing off, after a join whose data could not be had, and is ready once it has it', async () => {
    let failures = 2;
    const errors: string[] = [];
    const { session, transport } = setup({
      joinRetryMs: 20,
      handlers: {
        onShardsLoaded: async () => {
          if (failures-- > 0) throw new Error('shard 3: the run trains on data on each device');
        },
        onError: (e) => void errors.push(e.message),
      },
    });
    session.start();
    await vi.waitFor(() => expect(transport.events(EVENTS.ready)).toHaveLength(1), { timeout: 2000 });
    // Two failed joins, each said once; a hello per join; ready only after the third.
    expect(errors).toEqual(['shard 3: the run trains on data on each device', 'shard 3: the run trains on data on each device']);
    expect(transport.events(EVENTS.hello)).toHaveLength(3);
    expect(transport.connects).toBe(3);
    session.stop();
  });

  it('rejoins for the run’s data when a status names other data than it joined for', async () => {
    const { session, transport } = setup();
    session.start();
    await vi.waitFor(() => expect(transport.events(EVENTS.ready)).toHaveLength(1));
    transport.deliver(EVENTS.status, {
      runId: 'run-2',
      state: 'running',
      round: 0,
      rounds: 1,
      epsilon: null,
      epsilonBudget: null,
      delta: null,
      clientsConnected: 3,
      dataKey: 'demo:mnist:0123456789abcdef',
    });
    expect(transport.connects).toBe(1); // the same data: nothing to do
    transport.deliver(EVENTS.status, {
      runId: 'run-2',
      state: 'running',
      round: 0,
      rounds: 1,
      epsilon: null,
      epsilonBudget: null,
      delta: null,
      clientsConnected: 3,
      dataKey: 'demo:spam:fedcba9876543210',
    });
    await vi.waitFor(() => expect(transport.events(EVENTS.hello)).toHaveLength(2));
    expect(transport.connects).toBe(2);
    session.stop();
  });

  it('says hello as a new client, downloads its shards with the session header, then sends ready', async () => {
    let runtimeReady = () => {};
    const { session, transport, identities, downloads, loaded } = setup({
      handlers: {
        onShardsLoaded: (shards) => {
          loaded.push(shards);
          return new Promise<void>((resolve) => {
            runtimeReady = resolve;
          });
        },
      },
    });
    session.start();
    await vi.waitFor(() => expect(loaded).toHaveLength(1));
    expect(transport.events(EVENTS.hello)).toEqual([{ v: PROTOCOL_VERSION, miniClients: 2, name: 'test', backend: 'wasm', userAgent: 'vitest' }]);
    expect(identities.current()).toEqual({ clientId: 'client-new-0001', sessionToken: 'token-new-0123456789', miniClients: 2, shards: [3, 7] });
    expect(downloads).toEqual(
      [3, 7].map((i) => ({ url: `${COORDINATOR}/api/tasks/mnist/shards/${i}`, headers: { 'x-hushfl-session': 'client-new-0001:token-new-0123456789' } })),
    );
    expect(loaded[0]).toEqual([
      { index: 3, bytes: new Uint8Array([3]) },
      { index: 7, bytes: new Uint8Array([7]) },
    ]);
    // `ready` waits for the runtime.
    expect(transport.events(EVENTS.ready)).toHaveLength(0);
    runtimeReady();
    await vi.waitFor(() => expect(transport.events(EVENTS.ready)).toHaveLength(1));
  });

  it('resumes a stored identity and does not download shards it holds', async () => {
    const identity = { clientId: 'client-old-0001', sessionToken: 'token-old-0123456789', miniClients: 2, shards: [3, 7] };
    const joined: unknown[] = [];
    const { session, transport, downloads } = setup({
      identity,
      cached: [3],
      answer: () => joinedAck({ clientId: identity.clientId, sessionToken: identity.sessionToken, resumed: true }),
      handlers: { onJoined: (ack) => void joined.push(ack.resumed) },
    });
    session.start();
    await vi.waitFor(() => expect(transport.events(EVENTS.ready)).toHaveLength(1));
    expect(transport.events(EVENTS.hello)[0]).toMatchObject({ resume: { clientId: identity.clientId, sessionToken: identity.sessionToken } });
    expect(joined).toEqual([true]);
    expect(downloads.map((d) => d.url)).toEqual([`${COORDINATOR}/api/tasks/mnist/shards/7`]);
  });

  it('"unknown session": forgets the identity, reconnects and says hello again as a new client', async () => {
    const identity = { clientId: 'client-old-0001', sessionToken: 'token-old-0123456789', miniClients: 2, shards: [3, 7] };
    const refused: string[] = [];
    const { session, transport, identities } = setup({
      identity,
      answer: (_event, hello) =>
        hello && typeof hello === 'object' && 'resume' in hello
          ? { ok: false, error: 'unknown session: forget the stored identity and say hello again' }
          : joinedAck(),
      handlers: { onRefused: (e) => void refused.push(e) },
    });
    session.start();
    await vi.waitFor(() => expect(transport.events(EVENTS.ready)).toHaveLength(1));
    const hellos = transport.events(EVENTS.hello);
    expect(hellos).toHaveLength(2);
    expect(hellos[0]).toHaveProperty('resume');
    expect(hellos[1]).not.toHaveProperty('resume');
    expect(identities.forgotten()).toBe(1);
    expect(transport.connects).toBe(2);
    expect(identities.current()?.clientId).toBe('client-new-0001');
    expect(refused).toEqual([]);
  });

  it('any other refusal goes to onRefused, and no ready follows', async () => {
    const refused: string[] = [];
    const { session, transport } = setup({
      answer: () => ({ ok: false, error: 'at most 4 mini-clients per connection' }),
      handlers: { onRefused: (e) => void refused.push(e) },
    });
    session.start();
    await vi.waitFor(() => expect(refused).toEqual(['at most 4 mini-clients per connection']));
    expect(transport.events(EVENTS.ready)).toHaveLength(0);
  });

  it('refuses malformed messages with a reason; they never reach a handler', async () => {
    const secagg: string[] = [];
    const ends: string[] = [];
    const { session, transport, tasks, invalid } = setup({
      handlers: { onSecAgg: (m) => void secagg.push(m.message.type), onRoundEnd: (e) => void ends.push(e.roundId) },
    });
    session.start();
    await vi.waitFor(() => expect(transport.events(EVENTS.ready)).toHaveLength(1));

    transport.deliver(EVENTS.task, pack({ ...task, rotationSeed: new Uint8Array(31) }));
    transport.deliver(EVENTS.task, { json: 42, bin: new Uint8Array(0) });
    transport.deliver(EVENTS.task, { json: '{"a":{"$bin":[0,99]}}', bin: new Uint8Array(4) });
    transport.deliver(EVENTS.secagg, pack({ roundId: 'r', message: { type: 'survivors', roundId: 'r', to: 0, survivors: [] } }));
    transport.deliver(EVENTS.roundEnd, { roundId: 'r', status: 'done' });
    expect(tasks).toEqual([]);
    expect(secagg).toEqual([]);
    expect(ends).toEqual([]);
    expect(invalid).toEqual([
      [EVENTS.task, expect.stringMatching(/^rotationSeed: expected 32 bytes, got 31$/)],
      [EVENTS.task, 'envelope.json must be a string'],
      [EVENTS.task, expect.stringMatching(/outside the 4-byte buffer/)],
      [EVENTS.secagg, expect.stringMatching(/^message\.to: /)],
      [EVENTS.roundEnd, expect.stringMatching(/round: .*status: /s)],
    ]);

    // Valid ones pass, binary fields as bytes.
    transport.deliver(EVENTS.task, pack(task));
    transport.deliver(EVENTS.secagg, pack({ roundId: 'r', message: { type: 'survivors', roundId: 'r', to: 1, survivors: [1, 2] } }));
    transport.deliver(EVENTS.roundEnd, { roundId: 'r', round: 0, status: 'completed', included: true });
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ roundId: task.roundId, rotationSeed: new Uint8Array(32) });
    expect(secagg).toEqual(['survivors']);
    expect(ends).toEqual(['r']);
    expect(invalid).toHaveLength(5);
  });

  it('sends SecAgg envelopes with their ack once joined, and reports', async () => {
    const acks = [{ ok: true }, { ok: false, reason: 'late: the round is over' }, { yes: 1 }];
    const { session, transport, invalid } = setup({ answer: (event) => (event === EVENTS.hello ? joinedAck() : acks.shift()) });
    const envelope = pack({ roundId: 'r', message: { type: 'consistency-signature', roundId: 'r', from: 1, signature: new Uint8Array(64) } });
    await expect(session.sendSecAgg(envelope)).rejects.toThrow(/not joined/);
    session.report({ roundId: 'r', phase: 'training', progress: 0.5 });
    session.start();
    await vi.waitFor(() => expect(transport.events(EVENTS.ready)).toHaveLength(1));
    expect(transport.events(EVENTS.secagg)).toEqual([]);
    expect(transport.events(EVENTS.report)).toEqual([]);

    await expect(session.sendSecAgg(envelope)).resolves.toEqual({ ok: true });
    await expect(session.sendSecAgg(envelope)).resolves.toEqual({ ok: false, reason: 'late: the round is over' });
    await expect(session.sendSecAgg(envelope)).rejects.toThrow(/malformed/);
    expect(invalid).toEqual([[EVENTS.secagg, expect.stringMatching(/malformed ack/)]]);
    expect(transport.events(EVENTS.secagg)).toEqual([envelope, envelope, envelope]);
    session.report({ roundId: 'r', phase: 'training', progress: 0.5 });
    expect(transport.events(EVENTS.report)).toEqual([{ roundId: 'r', phase: 'training', progress: 0.5 }]);

    // After a disconnect nothing goes out until hello is accepted again.
    transport.disconnect();
    await expect(session.sendSecAgg(envelope)).rejects.toThrow(/not joined/);
  });

  it('echoes a liveness probe once joined (the coordinator selects a silent party again only after it)', async () => {
    const { session, transport, invalid } = setup();
    session.start();
    await vi.waitFor(() => expect(transport.events(EVENTS.ready)).toHaveLength(1));
    transport.deliver(EVENTS.liveness, { nonce: '0123456789abcdef0123456789abcdef' });
    expect(transport.events(EVENTS.liveness)).toEqual([{ nonce: '0123456789abcdef0123456789abcdef' }]);
    transport.deliver(EVENTS.liveness, { nonce: 'not hex' });
    expect(transport.events(EVENTS.liveness)).toHaveLength(1);
    expect(invalid).toEqual([[EVENTS.liveness, expect.any(String)]]);
  });
});
