/**
 * Whole runs through the RunEngine with no port, no tfjs and no SQLite: in-memory clients with fixed updates
 * (the real DDG encoder and SecAgg client), virtual time and seeded randomness.
 */
import { decodeDdg, l2Norm, RdpLedger, shuffleInPlace } from '@hushfl/ddp';
import { EVENTS, pack, type RunConfig, serverOptimizerOf, taskMessageSchema, unpack } from '@hushfl/protocol';
import { addInPlace, type DropPoint } from '@hushfl/secagg';
import { describe, expect, it } from 'vitest';
import { planDdg, roundRdp, roundRdpAgainstCoordinator } from './ddgPlan.ts';
import { fedOptStep, NO_FEDOPT_STATE, type FedOptState } from './fedOpt.ts';
import { runInMemory, VirtualClock } from './inMemory.ts';
import { selectionDelta } from './poissonSelection.ts';
import { emptyRecord, type RoundRecord } from './records.ts';
import { roundIdOf } from './roundEngine.ts';
import {
  type LiveRoundSnapshot,
  MAX_EXCUSED_ATTEMPTS,
  MAX_STORE_FAILURES,
  STORE_PAUSE_AFTER_MS,
  NEXT_ROUND_TIMER,
  type PersistOp,
  type RoundCharge,
  type RunCommand,
  RunEngine,
  type RunSetup,
  WATCHDOG_GRACE_MS,
} from './runEngine.ts';
import {
  engineTestConfig,
  type FakeClientLog,
  type FakeClientOptions,
  fakeClient,
  flipAllUnmaskShares,
  flipFirstUnmaskShare,
  poisonShareBoxes,
  seededWords,
} from './testing.ts';

const DIM = 7850; // the MNIST softmax regression (mlp with no hidden layer)

const seeded = seededWords;

/** Client i's update in round r: small (well inside the clip) and different per client, round and contribution. */
function update(i: number, round: number, j = 0): Float32Array {
  return Float32Array.from({ length: DIM }, (_, k) => 0.004 * Math.sin(0.37 * k + 1.3 * i + 0.7 * round + 2.1 * j));
}

interface Harness {
  engine: RunEngine;
  clock: VirtualClock;
  commands: RunCommand[];
  persisted: PersistOp[];
  logs: Map<string, FakeClientLog>;
}

function setupOf(config: RunConfig, extra: Partial<RunSetup> = {}): RunSetup {
  return {
    run: { id: 'run-test', name: config.name, createdAt: 0, dim: DIM },
    config,
    plan: planDdg(config, DIM),
    weights: new Float32Array(DIM),
    optimizerState: NO_FEDOPT_STATE,
    completedRound: -1,
    ...extra,
  };
}

async function drive(
  config: RunConfig,
  o: {
    clients: number;
    miniClients?: (i: number) => number;
    vanish?: (i: number, round: number, attempt: number) => DropPoint | null;
    /** Client i's misbehaviour, if any (testing.ts tampers). */
    tamper?: (i: number) => FakeClientOptions['tamper'] | undefined;
    setup?: Partial<RunSetup>;
    seed?: number;
    interject?: (h: Harness) => ReturnType<NonNullable<Parameters<typeof runInMemory>[0]['interject']>>;
  },
) {
  const clock = new VirtualClock();
  const seed = o.seed ?? 1;
  const engine = new RunEngine(setupOf(config, o.setup), { now: clock.now, random: seeded(seed), seeds: seeded(seed + 100) });
  const h: Harness = { engine, clock, commands: [], persisted: [], logs: new Map() };
  const clients = Array.from({ length: o.clients }, (_, i) => {
    const log: FakeClientLog = { inputs: new Map() };
    h.logs.set(`client-${i}`, log);
    return {
      clientId: `client-${i}`,
      miniClients: o.miniClients?.(i) ?? 1,
      make: fakeClient(
        {
          update: (round, j) => update(i, round, j),
          ...(o.vanish ? { vanish: (r, a) => o.vanish!(i, r, a) } : {}),
          ...(o.tamper?.(i) ? { tamper: o.tamper(i)! } : {}),
        },
        log,
      ),
    };
  });
  const result = await runInMemory({
    engine,
    clock,
    clients,
    evaluate: async (w) => ({ accuracy: l2Norm(w), loss: 0 }),
    observe: (c) => {
      h.commands.push(c);
      if (c.kind === 'persist') h.persisted.push(c.what);
    },
    ...(o.interject ? { interject: () => o.interject!(h) } : {}),
  });
  return { ...h, result };
}

/** An engine with clients a, b and c connected from the start, their probes answered: its first round is under way. */
async function startedWithThree(config: RunConfig): Promise<{ clock: VirtualClock; engine: RunEngine }> {
  const clock = new VirtualClock();
  const engine = new RunEngine(setupOf(config, { clients: ['a', 'b', 'c'].map((clientId) => ({ clientId, miniClients: 1 })) }), {
    now: clock.now,
    random: seeded(1),
    seeds: seeded(2),
  });
  await answerProbes(engine, await engine.handle({ type: 'start' }));
  return { clock, engine };
}

/** Answers every liveness probe in `commands` as the client runtime does; returns what the engine answered. */
async function answerProbes(engine: RunEngine, commands: readonly RunCommand[]): Promise<RunCommand[]> {
  const out: RunCommand[] = [];
  for (const c of commands)
    if (c.kind === 'send' && c.event === EVENTS.liveness)
      out.push(...(await engine.handle({ type: 'liveness', clientId: c.to, nonce: (c.payload as { nonce: string }).nonce })));
  return out;
}

const completed = (h: { engine: RunEngine }) => h.engine.rounds.filter((r) => r.status === 'completed');
/** The privacy charges the engine persisted, in order (one per attempt whose unmask requests went out). */
const charges = (h: { persisted: PersistOp[] }): RoundCharge[] => h.persisted.flatMap((p) => (p.op === 'stage' && p.charge ? [p.charge] : []));
const isUnmaskRequest = (c: RunCommand) => c.kind === 'send' && c.event === 'secagg' && (c.payload as { json: string }).json.includes('"unmask-request"');
const releases = (h: { commands: RunCommand[] }) => h.commands.filter((c): c is Extract<RunCommand, { kind: 'release' }> => c.kind === 'release');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('RunEngine: a whole run in memory', () => {
  it('runs every round, releases the mean of the contributions, applies FedAvg and persists each round', async () => {
    const config = engineTestConfig({ rounds: 3, minClients: 4, selection: { clientsPerRound: 4 } });
    const h = await drive(config, { clients: 4 });
    expect(h.result).toEqual({ state: 'completed', reason: 'all 3 rounds done' });
    expect(completed(h)).toHaveLength(3);
    // Each released mean is within the quantization error of the plain mean of the four updates.
    const plan = planDdg(config, DIM);
    let weights = new Float32Array(DIM);
    for (const [round, rel] of releases(h).entries()) {
      const plain = new Float64Array(DIM);
      for (let i = 0; i < 4; i++) {
        const u = update(i, round);
        for (let k = 0; k < DIM; k++) plain[k]! += u[k]! / 4;
      }
      expect(maxAbsDiff(rel.mean, plain)).toBeLessThan(plan.params.gamma * 4);
      weights = fedOptStep(weights, rel.mean, NO_FEDOPT_STATE, serverOptimizerOf(config.server)).weights as Float32Array<ArrayBuffer>;
      expect(rel.weights).toEqual(weights);
      expect(rel.summary).toMatchObject({ round, attempt: 1, status: 'completed', contributors: 4, selected: 4, epsilon: null });
    }
    expect(h.engine.weights).toEqual(weights);
    const finished = h.persisted.filter((p) => p.op === 'round-finished');
    expect(finished.map((p) => p.op === 'round-finished' && p.commit?.weights)).toEqual(releases(h).map((r) => r.weights));
    expect(h.persisted.at(-1)).toMatchObject({ op: 'metrics' });
    expect(h.persisted.filter((p) => p.op === 'run-state').at(-1)).toEqual({ op: 'run-state', state: 'completed', reason: 'all 3 rounds done' });
    const metrics = h.engine.metrics();
    expect(metrics.rounds.map((r) => [r.round, r.status])).toEqual([
      [0, 'completed'],
      [1, 'completed'],
      [2, 'completed'],
    ]);
  });

  it('is deterministic given its clock and randomness: the same seeds give the same selections and seeds', async () => {
    const config = engineTestConfig({ rounds: 3, minClients: 3, selection: { clientsPerRound: 3 } });
    const picks = async (seed: number) => {
      const h = await drive(config, { clients: 7, seed });
      return h.commands.flatMap((c) => (c.kind === 'notify' && c.notice.type === 'round-start' ? [c.notice.selected] : []));
    };
    const a = await picks(5);
    expect(await picks(5)).toEqual(a);
    expect(await picks(6)).not.toEqual(a);
  });
});

describe('RunEngine: selection', () => {
  it('fixed-size: draws idle parties with the injected randomness until n_min parties and the contributions, capping mini-clients', async () => {
    const config = engineTestConfig({ rounds: 4, minClients: 3, selection: { clientsPerRound: 5 }, maxMiniClients: 2 });
    // client-0 runs 5 mini-clients but the run counts at most 2 of them.
    const h = await drive(config, { clients: 6, miniClients: (i) => (i === 0 ? 5 : 1) });
    const starts = h.commands.flatMap((c) => (c.kind === 'notify' && c.notice.type === 'round-start' ? [c.notice.selected] : []));
    expect(starts).toHaveLength(4);
    for (const [round, selected] of starts.entries()) {
      expect(selected.length).toBeGreaterThanOrEqual(3);
      expect(new Set(selected).size).toBe(selected.length);
      expect(completed(h)[round]).toMatchObject({ contributions: 5, parties: selected.length });
    }
    // The same draw as an independent Fisher–Yates over the same words, taking parties until there are
    // three of them and five contributions, each bringing at most what leaves one for each party still needed.
    // The first draw is over the parties that had answered their liveness probe by then: clients 0–3 (in the
    // order they answered), the first that hold five contributions.
    const rw = seeded(1);
    const free = Array.from({ length: 4 }, (_, i) => ({ clientId: `client-${i}`, contributions: i === 0 ? 2 : 1 }));
    shuffleInPlace(free, rw);
    const expected: string[] = [];
    let total = 0;
    for (const p of free) {
      if (total >= 5 && expected.length >= 3) break;
      total += Math.max(1, Math.min(p.contributions, 5 - total - Math.max(0, 3 - expected.length - 1)));
      expected.push(p.clientId);
    }
    expect(total).toBe(5);
    expect(starts[0]).toEqual(expected);
  });

  it('while a population gathers, tells clients the waiting count O(n) times, not once per arrival (O(n²))', async () => {
    const n = 300;
    const config = engineTestConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: n + 1 } });
    const clock = new VirtualClock();
    const engine = new RunEngine(setupOf(config), { now: clock.now, random: seeded(1), seeds: seeded(2) });
    await engine.handle({ type: 'start' });
    let statusSends = 0;
    const count = (cs: readonly RunCommand[]) => {
      statusSends += cs.filter((c) => c.kind === 'send' && c.event === EVENTS.status).length;
    };
    for (let i = 0; i < n; i++) {
      clock.advanceTo(clock.now() + 5); // 300 arrivals in 1.5 s
      const cs = await engine.handle({ type: 'client-ready', clientId: `c${i}`, miniClients: 1 });
      count(cs);
      count(await answerProbes(engine, cs));
    }
    // Each arrival is told the status once (its own ready); a broadcast to everyone at most every 2 s.
    expect(statusSends).toBeLessThan(3 * n);
    // The next selection attempt after the interval (a timer or a tick) tells everyone the latest count.
    clock.advanceTo(clock.now() + 2_000);
    const tick = [...(await engine.handle({ type: 'timer', key: 'run#next' })), ...(await engine.handle({ type: 'tick' }))];
    const told = tick.filter((c) => c.kind === 'send' && c.event === EVENTS.status);
    expect(told).toHaveLength(n);
    expect((told[0]!.kind === 'send' && (told[0]!.payload as { message: string }).message) || '').toMatch(/^waiting for clients: 300 eligible/);
  });

  it('waits without selecting while too few clients are ready, and starts once enough are', async () => {
    const config = engineTestConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 } });
    const clock = new VirtualClock();
    const engine = new RunEngine(setupOf(config), { now: clock.now, random: seeded(1), seeds: seeded(2) });
    const first = await engine.handle({ type: 'start' });
    expect(first.filter((c) => c.kind !== 'log')).toEqual([{ kind: 'start-timer', key: 'run#next', ms: 500 }]);
    expect(engine.status().message).toBe('waiting for clients: 0 eligible, a round needs 3 parties');
    await answerProbes(engine, await engine.handle({ type: 'client-ready', clientId: 'a', miniClients: 1 }));
    const two = await engine.handle({ type: 'client-ready', clientId: 'b', miniClients: 1 });
    expect(two.some((c) => c.kind === 'notify' && c.notice.type === 'round-start')).toBe(false);
    await answerProbes(engine, two);
    // c is ready but has not answered its liveness probe yet: not eligible.
    const three = await engine.handle({ type: 'client-ready', clientId: 'c', miniClients: 1 });
    expect(three.some((c) => c.kind === 'send' && c.event === 'task')).toBe(false);
    expect(engine.status().message).toBe('waiting for clients: 2 eligible, a round needs 3 parties; 1 connected must first answer a liveness probe');
    const answered = await answerProbes(engine, three);
    const tasksTo = answered.flatMap((c) => (c.kind === 'send' && c.event === 'task' ? [c.to] : []));
    expect([...tasksTo].sort()).toEqual(['a', 'b', 'c']);
    expect(engine.status().state).toBe('running');
  });

  it('a liveness probe answered with the wrong nonce, or by another client, proves nothing', async () => {
    const config = engineTestConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 } });
    const engine = new RunEngine(setupOf(config), { now: new VirtualClock().now, random: seeded(1), seeds: seeded(2) });
    await engine.handle({ type: 'start' });
    const probes: RunCommand[] = [];
    for (const id of ['a', 'b', 'c']) probes.push(...(await engine.handle({ type: 'client-ready', clientId: id, miniClients: 1 })));
    const nonces = probes.flatMap((c) => (c.kind === 'send' && c.event === EVENTS.liveness ? [(c.payload as { nonce: string }).nonce] : []));
    expect(new Set(nonces).size).toBe(3);
    await engine.handle({ type: 'liveness', clientId: 'a', nonce: nonces[0]! });
    await engine.handle({ type: 'liveness', clientId: 'b', nonce: nonces[2]! });
    await engine.handle({ type: 'liveness', clientId: 'c', nonce: '0'.repeat(32) });
    expect(engine.status().state).toBe('waiting');
    await answerProbes(engine, probes);
    expect(engine.status().state).toBe('running');
  });

  it('Poisson: waits while the shortfall p is above the limit, then draws; Σp enters δ', async () => {
    const config = engineTestConfig({
      rounds: 2,
      minClients: 2,
      // With 12 parties online, p = P(Bin(12, 1/2) < 3) = 79/4096 ≈ 0.019 (n_min is never below 3 parties).
      selection: { sampleRate: 0.5, population: 12, maxShortfall: 0.03 },
      ddg: { bits: 24, gamma: 1e-4, localStddev: 1e-3 },
    });
    const h = await drive(config, { clients: 12 });
    expect(h.result.state).toBe('completed');
    // The first draw of each released round risked p = P[too small]; the run's δ term is (1 + e^ε)·Σp.
    const done = completed(h);
    expect(done).toHaveLength(2);
    const last = done.at(-1)!;
    expect(last.deltaSelection).toBeGreaterThan(0);
    const sigma = h.engine.metrics().privacy.selectionShortfall;
    expect(last.deltaSelection).toBeCloseTo(selectionDelta(sigma, last.epsilon!), 15);
    // With six clients online p = P(Bin(6, 1/2) < 3) = 22/64 is far above the default limit: the engine waits and says why.
    const small = engineTestConfig({
      rounds: 1,
      minClients: 2,
      selection: { sampleRate: 0.5, population: 6 },
      ddg: { bits: 24, gamma: 1e-4, localStddev: 1e-3 },
    });
    const clock = new VirtualClock();
    const engine = new RunEngine(setupOf(small, { clients: ['a', 'b', 'c', 'd', 'e', 'f'].map((clientId) => ({ clientId, miniClients: 1 })) }), {
      now: clock.now,
      random: seeded(1),
      seeds: seeded(2),
    });
    const out = await engine.handle({ type: 'start' });
    expect(out.some((c) => c.kind === 'log' && /Poisson selection: waiting/.test(c.message))).toBe(true);
    expect(out.some((c) => c.kind === 'start-timer' && c.key === 'run#next')).toBe(true);
    expect(out.some((c) => c.kind === 'send' && c.event === 'task')).toBe(false);
  });
});

describe('RunEngine: privacy budget and ledgers', () => {
  it('stops before a round that could pass the budget; ε and ε against the coordinator follow the RDP sums', async () => {
    // Calibrated for 2 rounds, run configured for 5: the budget stops it after 2.
    const two = engineTestConfig({ rounds: 2, minClients: 4, selection: { clientsPerRound: 4 }, ddg: { bits: 20, epsilon: 30, delta: 1e-5 } });
    const five: RunConfig = { ...two, rounds: 5 };
    const plan = planDdg(two, DIM);
    const h = await drive(five, { clients: 4, setup: { plan } });
    expect(h.result.state).toBe('completed');
    expect(h.result.reason).toMatch(/^privacy budget reached: another round could spend ε = [\d.]+ > 30$/);
    const done = completed(h);
    expect(done).toHaveLength(2);
    const ledger = new RdpLedger();
    const coordinator = new RdpLedger();
    for (const r of done) {
      expect(r.parties).toBe(4);
      ledger.add(roundRdp(plan, r.parties!)!);
      coordinator.add(roundRdpAgainstCoordinator(plan, r.parties!)!);
      expect(r.epsilon).toBeCloseTo(ledger.spent(plan.delta).epsilon, 12);
      expect(r.epsilonVsCoordinator).toBeCloseTo(coordinator.spent(plan.delta).epsilon, 12);
    }
    expect(done.at(-1)!.epsilon!).toBeLessThanOrEqual(30 * (1 + 1e-6));
    // The ledger is written once per attempt, ahead of its unmask requests; the commits write none.
    const entry = charges(h).at(-1)!.ledger!;
    expect(entry.rdp).toEqual(ledger.rdp());
    expect(entry.rdpCoordinator).toEqual(coordinator.rdp());
    expect(h.persisted.some((p) => p.op === 'round-finished' && p.commit?.ledger)).toBe(false);
  });
});

describe('RunEngine: retries', () => {
  it('an attempt below n_min is aborted before unmasking and re-run as the next attempt', async () => {
    // maxColluders 0: SecAgg survives the dropout (t = ⌊k/2⌋ + 1), so n_min is what stops the attempt.
    const config = engineTestConfig({ rounds: 1, minClients: 4, selection: { clientsPerRound: 4 }, secagg: { maxColluders: 0 } });
    const h = await drive(config, { clients: 4, vanish: (i, _r, attempt) => (attempt === 1 && i === 0 ? 'after-share' : null) });
    expect(h.engine.rounds.map((r) => [r.round, r.attempt, r.status])).toEqual([
      [0, 1, 'aborted'],
      [0, 2, 'completed'],
    ]);
    expect(h.engine.rounds[0]!.error).toMatch(/only 3 parties reached the sum, fewer than n_min = 4 parties/);
    expect(h.engine.rounds[0]!.epsilon).toBeNull(); // never unmasked, never charged
    // The aborted attempt never reached Unmasking: no unmask request was sent in it.
    const firstAttempt = h.commands
      .flatMap((c) => (c.kind === 'send' && c.event === 'secagg' ? [(c.payload as { json: string }).json] : []))
      .filter((j) => j.includes('/a1"'));
    expect(firstAttempt.length).toBeGreaterThan(0);
    expect(firstAttempt.some((j) => j.includes('unmask-request'))).toBe(false);
  });

  it('fails the run after maxAttempts aborted attempts of one round that no party can be blamed for (here: the watchdog)', async () => {
    const config = engineTestConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 3 }, maxAttempts: 3 });
    const { clock, engine } = await startedWithThree(config);
    // Each attempt's stage timer is lost: the watchdog aborts it, and that abort counts.
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(engine.status()).toMatchObject({ state: 'running', round: 0 });
      clock.advanceTo(clock.now() + config.deadlines.training * 1000 + WATCHDOG_GRACE_MS + 1000);
      await engine.handle({ type: 'tick' });
      await engine.handle({ type: 'timer', key: NEXT_ROUND_TIMER });
    }
    expect(engine.rounds.map((r) => [r.status, r.excused ?? null])).toEqual([
      ['aborted', null],
      ['aborted', null],
      ['aborted', null],
    ]);
    expect(engine.status()).toMatchObject({ state: 'failed', message: 'round 0 aborted 3 times with no party to blame (maxAttempts = 3)' });
  });

  it('attempts aborted by silent parties do not count: a silent party is probed, never excluded, and the run pauses after MAX_EXCUSED_ATTEMPTS', async () => {
    const config = engineTestConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 3 }, maxAttempts: 2 });
    const clock = new VirtualClock();
    const engine = new RunEngine(setupOf(config), { now: clock.now, random: seeded(1), seeds: seeded(2) });
    const commands: RunCommand[] = [];
    const clients = Array.from({ length: 3 }, (_, i) => ({
      clientId: `client-${i}`,
      miniClients: 1,
      // client-2 echoes probes but never takes part after round 0.
      make: fakeClient({ update: (r, j) => update(i, r, j), vanish: (round) => (i === 2 && round >= 1 ? 'before-advertise' : null) }),
    }));
    // Paused: nothing is left to happen.
    await expect(runInMemory({ engine, clock, clients, observe: (c) => commands.push(c) })).rejects.toThrow(/stalled/);
    const round1 = engine.rounds.filter((r) => r.round === 1);
    expect(round1).toHaveLength(MAX_EXCUSED_ATTEMPTS);
    expect(round1.every((r) => r.status === 'aborted' && /did not answer/.test(r.excused ?? ''))).toBe(true);
    const probes = commands.filter((c) => c.kind === 'send' && c.event === EVENTS.liveness && c.to === 'client-2');
    // The first, before its first selection; then one per two silent attempts.
    expect(probes).toHaveLength(1 + MAX_EXCUSED_ATTEMPTS / 2);
    expect(engine.excludedParties.size).toBe(0);
    expect(engine.state).toBe('paused');
    const paused = commands.flatMap((c) => (c.kind === 'persist' && c.what.op === 'run-state' ? [c.what] : []));
    expect(paused.at(-1)).toMatchObject({
      state: 'paused',
      reason: expect.stringMatching(new RegExp(`^round 1 was aborted ${MAX_EXCUSED_ATTEMPTS} times by misbehaving or silent parties`)),
    });
    // Resumed by the operator, the round gets a fresh allowance.
    await engine.handle({ type: 'operator', command: 'resume' });
    expect(engine.state).toBe('running');
  });
});

describe('RunEngine: server momentum', () => {
  it('m ← μ·m + mean, w ← w + η·m across rounds', async () => {
    const config = engineTestConfig({ rounds: 3, minClients: 3, selection: { clientsPerRound: 3 }, server: { learningRate: 0.5, momentum: 0.9 } });
    const h = await drive(config, { clients: 3 });
    const w = new Float64Array(DIM);
    const m = new Float64Array(DIM);
    for (const rel of releases(h)) {
      for (let k = 0; k < DIM; k++) {
        m[k] = Math.fround(0.9 * m[k]! + rel.mean[k]!);
        w[k] = Math.fround(w[k]! + 0.5 * m[k]!);
      }
      expect(maxAbsDiff(rel.weights, w)).toBeLessThan(1e-6);
    }
    const last = h.persisted.filter((p) => p.op === 'round-finished').at(-1)!;
    expect(last.op === 'round-finished' && maxAbsDiff(last.commit!.optimizerState.m!, m)).toBeLessThan(1e-6);
  });
});

describe('RunEngine: adaptive server optimizers', () => {
  for (const optimizer of ['fedadam', 'fedyogi', 'fedadagrad'] as const) {
    it(`${optimizer}: each release is Reddi et al.'s step from the previous state, and the state is committed with the round`, async () => {
      const config = engineTestConfig({
        rounds: 3,
        minClients: 3,
        selection: { clientsPerRound: 3 },
        server: { optimizer, learningRate: 0.01, beta1: 0.8, beta2: 0.95, tau: 0.01 },
      });
      const h = await drive(config, { clients: 3 });
      // Algorithm 2 coordinate by coordinate, the state rounded to float32 as the checkpoint stores it.
      const f = Math.fround;
      const x = new Float64Array(DIM);
      const m = new Float64Array(DIM);
      const v = new Float64Array(DIM).fill(f(0.01 * 0.01));
      const rels = releases(h);
      expect(rels).toHaveLength(3);
      for (const rel of rels) {
        for (let k = 0; k < DIM; k++) {
          const g = rel.mean[k]!;
          m[k] = f(0.8 * m[k]! + 0.2 * g);
          if (optimizer === 'fedadagrad') v[k] = f(v[k]! + g * g);
          else if (optimizer === 'fedadam') v[k] = f(0.95 * v[k]! + 0.05 * g * g);
          else v[k] = f(v[k]! - 0.05 * g * g * Math.sign(v[k]! - g * g));
          x[k] = f(x[k]! + (0.01 * m[k]!) / (Math.sqrt(v[k]!) + 0.01));
        }
        expect(Array.from(rel.weights)).toEqual(Array.from(x));
      }
      const last = h.persisted.filter((p) => p.op === 'round-finished').at(-1)!;
      const state = last.op === 'round-finished' ? last.commit!.optimizerState : NO_FEDOPT_STATE;
      expect(Array.from(state.m!)).toEqual(Array.from(m));
      expect(Array.from(state.v!)).toEqual(Array.from(v));
    });
  }

  it('refuses a server config that mixes FedAvgM momentum into another optimizer', () => {
    expect(() => engineTestConfig({ rounds: 1, minClients: 3, server: { optimizer: 'fedadam', momentum: 0.9 } })).toThrow(
      /momentum is FedAvgM's; fedadam takes beta1/,
    );
    expect(() => engineTestConfig({ rounds: 1, minClients: 3, server: { momentum: 0.9, beta1: 0.5 } })).toThrow(/same parameter of FedAvgM/);
    expect(serverOptimizerOf(engineTestConfig({ rounds: 1, minClients: 3, server: { momentum: 0.7 } }).server)).toMatchObject({
      optimizer: 'fedavgm',
      beta1: 0.7,
    });
    expect(serverOptimizerOf(engineTestConfig({ rounds: 1, minClients: 3 }).server)).toMatchObject({ optimizer: 'fedavg' });
  });
});

describe('RunEngine: resume from persisted state', () => {
  for (const server of [
    { learningRate: 1, momentum: 0.5 },
    { optimizer: 'fedadam', learningRate: 0.01 },
  ] as const)
    it(`a run stopped after 2 rounds resumes from its records, ledger and checkpoint, and finishes with the same books (${'optimizer' in server ? server.optimizer : 'fedavgm'})`, async () => {
      const config = engineTestConfig({
        rounds: 4,
        minClients: 3,
        selection: { clientsPerRound: 3 },
        ddg: { bits: 20, gamma: 1e-4, localStddev: 2e-3 },
        server,
      });
      // First process: stop it once round 1 is released.
      let stopAsked = false;
      const first = await drive(config, {
        clients: 3,
        interject: (h) => {
          if (stopAsked || h.engine.lastCompletedRound < 1) return null;
          stopAsked = true;
          return { type: 'operator', command: 'stop', reason: 'maintenance' };
        },
      });
      expect(first.result).toEqual({ state: 'stopped', reason: 'maintenance' });
      const kept = first.engine.rounds.filter((r) => r.status !== 'running');
      const lastCommit = first.persisted.flatMap((p) => (p.op === 'round-finished' && p.commit ? [{ record: p.record, ...p.commit }] : [])).at(-1)!;
      expect(lastCommit.record.round).toBe(first.engine.lastCompletedRound);
      const lastCharge = charges(first).at(-1)!.ledger!;
      // Second process: what the store would hand back.
      const second = await drive(config, {
        clients: 3,
        seed: 9,
        setup: {
          weights: lastCommit.weights,
          optimizerState: lastCommit.optimizerState,
          completedRound: lastCommit.record.round,
          rounds: kept as RoundRecord[],
          ledger: { ...lastCharge, rounds: lastCharge.charges! },
        },
      });
      expect(second.result.state).toBe('completed');
      const done = completed(second);
      expect(done.map((r) => r.round)).toEqual([0, 1, 2, 3]);
      // The ledger continued: ε after round 3 is the sum of every charged attempt's RDP (four rounds, and any
      // attempt the stop cut short after its unmask requests).
      const plan = planDdg(config, DIM);
      const ledger = new RdpLedger();
      for (const c of [...charges(first), ...charges(second)]) ledger.add(roundRdp(plan, c.parties)!);
      expect(ledger.rounds).toBeGreaterThanOrEqual(4);
      expect(done.at(-1)!.epsilon).toBeCloseTo(ledger.spent(plan.delta).epsilon, 12);
      // The server optimizer continued from the checkpoint's weights and state, bit for bit.
      expect(lastCommit.optimizerState.m).not.toBeNull();
      if ('optimizer' in server) expect(lastCommit.optimizerState.v).not.toBeNull();
      const firstRelease = releases(second)[0]!;
      expect(firstRelease.weights).toEqual(
        fedOptStep(lastCommit.weights, firstRelease.mean, lastCommit.optimizerState, serverOptimizerOf(config.server)).weights,
      );
    });

  it('refuses a setup with an attempt still marked running', () => {
    const config = engineTestConfig({ rounds: 2, minClients: 2 });
    const running: RoundRecord = { ...completedRecord(0), status: 'running' };
    expect(() => new RunEngine(setupOf(config, { rounds: [running] }), { now: () => 0, random: seeded(1), seeds: seeded(2) })).toThrow(/still running/);
  });
});

function completedRecord(round: number): RoundRecord {
  return {
    round,
    attempt: 1,
    status: 'completed',
    startedAt: 0,
    finishedAt: 1,
    selected: 2,
    contributions: 2,
    accuracy: null,
    loss: null,
    epsilon: null,
    epsilonVsCoordinator: null,
    deltaSelection: 0,
    error: null,
    durationsMs: {},
    droppedClients: {},
    bytesUp: 0,
    bytesDown: 0,
  };
}

describe('RunEngine: pause, resume, stop', () => {
  it('pause lets the round in progress finish and starts no other; resume continues; stop aborts the live round', async () => {
    const config = engineTestConfig({ rounds: 5, minClients: 3, selection: { clientsPerRound: 3 } });
    let paused = false;
    let resumed = false;
    let startsWhilePaused = 0;
    const h = await drive(config, {
      clients: 3,
      interject: (hh) => {
        if (paused && !resumed)
          startsWhilePaused = hh.commands.filter((c) => c.kind === 'notify' && c.notice.type === 'round-start' && c.notice.round === 2).length;
        // Pause as soon as round 1 is under way.
        if (!paused && hh.commands.some((c) => c.kind === 'notify' && c.notice.type === 'round-start' && c.notice.round === 1)) {
          paused = true;
          return { type: 'operator', command: 'pause' };
        }
        // Resume once round 1 finished while paused and nothing else runs.
        if (paused && !resumed && hh.engine.lastCompletedRound === 1 && hh.engine.status().state === 'paused') {
          resumed = true;
          return { type: 'operator', command: 'resume' };
        }
        return null;
      },
    });
    expect(resumed).toBe(true);
    expect(startsWhilePaused).toBe(0);
    expect(h.persisted.filter((p) => p.op === 'run-state').map((p) => p.op === 'run-state' && p.state)).toEqual(['paused', 'running', 'completed']);
    expect(completed(h).map((r) => r.round)).toEqual([0, 1, 2, 3, 4]);

    // Stop during a round: the attempt is recorded as aborted with the operator's reason, then the run stops.
    const { engine } = await startedWithThree(config);
    expect(engine.status().state).toBe('running');
    const out = await engine.handle({ type: 'operator', command: 'stop', reason: 'enough' });
    expect(engine.rounds.map((r) => [r.status, r.error])).toEqual([['aborted', 'enough']]);
    expect(out.at(-1)).toEqual({ kind: 'end', state: 'stopped', reason: 'enough' });
    await expect(engine.handle({ type: 'operator', command: 'resume' })).rejects.toThrow(/not active/);
  });
});

describe('RunEngine: one round as a snapshot', () => {
  it('snapshot → wire bytes → restore into a new engine continues the round and releases exactly the unmasked sum', async () => {
    const config = engineTestConfig({ rounds: 1, minClients: 4, selection: { clientsPerRound: 5 }, ddg: { bits: 20, gamma: 1e-4, localStddev: 1e-3 } });
    for (const at of ['share-keys', 'masked-input', 'consistency-check', 'unmasking'] as const) {
      let swapped = false;
      let snapshotBytes = 0;
      const clock = new VirtualClock();
      const original = new RunEngine(setupOf(config), { now: clock.now, random: seeded(1), seeds: seeded(2) });
      let current = original;
      const logs = new Map<string, FakeClientLog>();
      const clients = Array.from({ length: 5 }, (_, i) => {
        const log: FakeClientLog = { inputs: new Map() };
        logs.set(`client-${i}`, log);
        return {
          clientId: `client-${i}`,
          miniClients: 1,
          make: fakeClient({ update: (r, j) => update(i, r, j), vanish: () => (i === 4 ? 'after-share' : null) }, log),
        };
      });
      const released: Extract<RunCommand, { kind: 'release' }>[] = [];
      let rotationSeed: Uint8Array | null = null;
      // The driver talks to `current`; once stage `at` opens, the round moves to a fresh engine.
      const proxy = {
        handle: async (e: Parameters<RunEngine['handle']>[0]) => {
          const out = await current.handle(e);
          for (const c of out) if (c.kind === 'send' && c.event === 'task') rotationSeed ??= taskMessageSchema.parse(unpack(c.payload)).rotationSeed.slice();
          const opened = out.some((c) => c.kind === 'notify' && c.notice.type === 'stage' && c.notice.stage === at && c.notice.phase === 'open');
          if (opened && !swapped) {
            swapped = true;
            const snap = current.snapshotRound()!;
            const wire = pack(snap);
            snapshotBytes = wire.json.length + wire.bin.length;
            const restored = new RunEngine(setupOf(config, { clients: clients.map((c) => ({ clientId: c.clientId, miniClients: 1 })) }), {
              now: clock.now,
              random: seeded(7),
              seeds: seeded(8),
            });
            if (at === 'share-keys') {
              // An engine set up from a checkpoint behind the leader's: another model, or another optimizer state.
              const stale = (extra: Partial<RunSetup>) => new RunEngine(setupOf(config, extra), { now: clock.now, random: seeded(7), seeds: seeded(8) });
              await expect(stale({ weights: new Float32Array(DIM).fill(0.5) }).restoreRound(unpack(wire) as LiveRoundSnapshot)).rejects.toThrow(
                /another global model/,
              );
              const otherState: FedOptState = { m: new Float32Array(DIM).fill(0.1), v: null };
              await expect(stale({ optimizerState: otherState }).restoreRound(unpack(wire) as LiveRoundSnapshot)).rejects.toThrow(
                /another server optimizer state/,
              );
            }
            const timers = await restored.restoreRound(unpack(wire) as LiveRoundSnapshot);
            expect(timers.map((c) => c.kind)).toEqual(['start-timer']);
            current = restored;
          }
          return out;
        },
      };
      const result = await runInMemory({ engine: proxy, clock, clients, observe: (c) => c.kind === 'release' && released.push(c) });
      expect(result.state, at).toBe('completed');
      expect(swapped).toBe(true);
      expect(snapshotBytes).toBeGreaterThan(0);
      expect(current).not.toBe(original);
      // Exactly the decoded sum of the included clients' inputs (the fake clients recorded them).
      const rel = released[0]!;
      const plan = planDdg(config, DIM);
      const sum = new Uint32Array(plan.dimPadded);
      for (const id of rel.included) addInPlace(sum, [...logs.get(id)!.inputs.values()][0]!, plan.params.bits);
      expect(rel.summary.contributors).toBe(rel.included.length);
      expect(rel.included).not.toContain('client-4');
      // The model's d coordinates; the federated evaluation coordinates after them are the metric totals.
      expect(rel.mean).toEqual(decodeDdg(sum, plan.params, rotationSeed!, rel.included.length).slice(0, DIM));
    }
  });
});

describe('RunEngine: a step applies completely or not at all', () => {
  it('the round is committed before its evaluation; a step that throws after the commit leaves no hang: the next tick goes on', async () => {
    const config = engineTestConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 3 } });
    const clock = new VirtualClock();
    let failNow = false;
    const now = () => {
      if (failNow) throw new Error('clock unavailable');
      return clock.now();
    };
    const engine = new RunEngine(setupOf(config), { now, random: seeded(1), seeds: seeded(2) });
    const persisted: PersistOp[] = [];
    let failed: unknown = null;
    await runInMemory({
      engine: {
        handle: async (e: Parameters<RunEngine['handle']>[0]) => {
          if (e.type !== 'evaluated' || failed) return engine.handle(e);
          // The round was committed (model, record, ledger) when it was released, before this evaluation.
          const commit = persisted.filter((p) => p.op === 'round-finished' && p.record.status === 'completed');
          expect(commit).toHaveLength(1);
          expect(engine.lastCompletedRound).toBe(0);
          // Its answer arrives while the clock fails: the evaluation is recorded, starting round 1 throws.
          failNow = true;
          failed = await engine.handle(e).catch((err: unknown) => err);
          failNow = false;
          expect(engine.rounds.find((r) => r.round === 0)!.accuracy).toBe(e.accuracy);
          expect(engine.status().state).toBe('waiting');
          // Nothing is left hanging: the shell's next tick starts round 1.
          return engine.handle({ type: 'tick' });
        },
      },
      clock,
      clients: Array.from({ length: 3 }, (_, i) => ({ clientId: `client-${i}`, miniClients: 1, make: fakeClient({ update: (r, j) => update(i, r, j) }) })),
      evaluate: async (w) => ({ accuracy: l2Norm(w), loss: 0 }),
      observe: (c) => {
        if (c.kind === 'persist') persisted.push(c.what);
      },
    });
    expect(failed).toBeInstanceOf(Error);
    expect(engine.rounds.filter((r) => r.status === 'completed').map((r) => [r.round, r.attempt])).toEqual([
      [0, 1],
      [1, 1],
    ]);
    // The failed step's commands were never carried out: round 0 is committed, only its accuracy is not stored.
    expect(persisted.filter((p) => p.op === 'round-evaluated').map((p) => p.op === 'round-evaluated' && p.round)).toEqual([1]);
  });
});

describe('RunEngine: n_min counts parties, never the mini-clients they declare (issue 12 §2)', () => {
  const ddg = { bits: 24, gamma: 1e-4, localStddev: 1e-3 };

  // The review's attack (two sockets, one claiming 16 mini-clients, released as a round "of 17"), and the same
  // with a third party so that SecAgg's own floor of three parties does not stop it first.
  for (const minis of [
    [1, 16],
    [1, 1, 16],
  ]) {
    const offered = minis.reduce((a, b) => a + b, 0);
    it(`${minis.length} parties claiming ${offered} mini-clients are no round "of ${offered}" at minClients 10`, async () => {
      const config = engineTestConfig({ rounds: 1, minClients: 10, selection: { clientsPerRound: offered }, maxMiniClients: 16, ddg });
      const clock = new VirtualClock();
      const engine = new RunEngine(setupOf(config), { now: clock.now, random: seeded(1), seeds: seeded(2) });
      const observed: RunCommand[] = [];
      const parties = minis.map((miniClients, i) => ({ clientId: `client-${i}`, miniClients, make: fakeClient({ update: (r, j) => update(i, r, j) }) }));
      // The contributions are on offer, but these are only as many noise sources as parties: the engine waits.
      await expect(runInMemory({ engine, clock, clients: parties, observe: (c) => observed.push(c), maxVirtualMs: 60_000 })).rejects.toThrow(
        /still going after 60000 virtual ms \(waiting on run#next\)/,
      );
      expect(observed.some((c) => c.kind === 'send' && c.event === 'task')).toBe(false);
      expect(observed.some((c) => c.kind === 'release')).toBe(false);
      expect(engine.rounds).toEqual([]);
      expect(engine.metrics().privacy).toMatchObject({ minClients: 10, minParties: 10, nMinUnit: 'parties' });
    });
  }

  it('with ten parties the round runs, holds at most clientsPerRound contributions and is charged at n = 10 parties', async () => {
    const config = engineTestConfig({ rounds: 1, minClients: 10, selection: { clientsPerRound: 17 }, maxMiniClients: 16, ddg });
    const h = await drive(config, { clients: 10, miniClients: (i) => (i === 0 ? 16 : 1) });
    expect(h.result.state).toBe('completed');
    const [r] = completed(h);
    expect(r).toMatchObject({ parties: 10, contributions: 17, selected: 10 });
    const tasks = h.commands.flatMap((c) => (c.kind === 'send' && c.event === 'task' ? [taskMessageSchema.parse(unpack(c.payload))] : []));
    expect(tasks.reduce((s, t) => s + t.contributions, 0)).toBe(17);
    const plan = planDdg(config, DIM);
    const atParties = new RdpLedger();
    atParties.add(roundRdp(plan, 10)!);
    expect(r!.epsilon).toBeCloseTo(atParties.spent(plan.delta).epsilon, 12);
    // Counting the 17 contributions would have claimed less ε than the ten noise sources give.
    const atContributions = new RdpLedger();
    atContributions.add(roundRdp(plan, 17)!);
    expect(atContributions.spent(plan.delta).epsilon).toBeLessThan(r!.epsilon! - 1e-6);
    expect(h.engine.metrics().rounds[0]).toMatchObject({ parties: 10, contributors: 17 });
  });

  it('a SecAgg round needs at least three parties, whatever minClients says', async () => {
    const config = engineTestConfig({ rounds: 1, minClients: 2, selection: { clientsPerRound: 3 }, ddg });
    const clock = new VirtualClock();
    const engine = new RunEngine(setupOf(config), { now: clock.now, random: seeded(1), seeds: seeded(2) });
    const observed: RunCommand[] = [];
    const two = [0, 1].map((i) => ({ clientId: `client-${i}`, miniClients: 1, make: fakeClient({ update: (r, j) => update(i, r, j) }) }));
    await expect(runInMemory({ engine, clock, clients: two, observe: (c) => observed.push(c), maxVirtualMs: 60_000 })).rejects.toThrow(/still going/);
    expect(observed.some((c) => c.kind === 'send' && c.event === 'task')).toBe(false);
    expect(engine.metrics().privacy).toMatchObject({ minClients: 2, minParties: 3 });
    const h = await drive(config, { clients: 3 });
    expect(completed(h)).toEqual([expect.objectContaining({ parties: 3, contributions: 3 })]);
  });
});

describe('RunEngine: privacy is spent before the sum is computable (issue 12 §3)', () => {
  const config = engineTestConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 4 }, ddg: { bits: 20, gamma: 1e-4, localStddev: 2e-3 } });
  const plan = planDdg(config, DIM);
  const epsilonAfter = (parties: number[]) => {
    const l = new RdpLedger();
    for (const n of parties) l.add(roundRdp(plan, n)!);
    return l;
  };

  it('an attempt stopped by the operator after its unmask requests went out stays charged, also after a resume', async () => {
    let cut = false;
    const first = await drive(config, {
      clients: 4,
      interject: (h) => {
        if (cut || !h.commands.some(isUnmaskRequest)) return null;
        cut = true;
        return { type: 'operator', command: 'stop', reason: 'stopped while unmasking' };
      },
    });
    expect(first.result).toEqual({ state: 'stopped', reason: 'stopped while unmasking' });
    const want = epsilonAfter([4]);
    // The charge is persisted on the ConsistencyCheck's stage row, before the first unmask request.
    const chargeAt = first.commands.findIndex((c) => c.kind === 'persist' && c.what.op === 'stage' && c.what.charge !== undefined);
    const firstRequest = first.commands.findIndex(isUnmaskRequest);
    expect(chargeAt).toBeGreaterThanOrEqual(0);
    expect(chargeAt).toBeLessThan(firstRequest);
    const stageOp = (first.commands[chargeAt] as Extract<RunCommand, { kind: 'persist' }>).what;
    expect(stageOp).toMatchObject({ op: 'stage', round: 0, attempt: 1, stage: 'consistency-check', phase: 'closed' });
    expect(charges(first)).toHaveLength(1);
    const [charge] = charges(first);
    expect(charge).toMatchObject({ parties: 4, contributions: 4 });
    expect(charge!.ledger!.rdp).toEqual(want.rdp());
    expect(charge!.ledger!.charges).toBe(1);
    // The aborted attempt says what it spent; the in-memory books hold it; nothing was committed.
    const eps = want.spent(plan.delta).epsilon;
    expect(first.engine.rounds).toEqual([expect.objectContaining({ round: 0, attempt: 1, status: 'aborted', parties: 4 })]);
    expect(first.engine.rounds[0]!.epsilon).toBeCloseTo(eps, 12);
    expect(first.engine.status().epsilon).toBeCloseTo(eps, 12);
    expect(first.persisted.some((p) => p.op === 'round-finished' && p.commit)).toBe(false);
    expect(first.engine.metrics().rounds[0]!.epsilon).toBeCloseTo(eps, 12);

    // Resume from what the store keeps: the aborted record and the charge's ledger row.
    const second = await drive(config, {
      clients: 4,
      seed: 9,
      setup: { rounds: first.engine.rounds as RoundRecord[], ledger: { ...charge!.ledger!, rounds: charge!.ledger!.charges! } },
    });
    expect(second.result.state).toBe('completed');
    expect(second.engine.rounds.map((r) => [r.round, r.attempt, r.status])).toEqual([
      [0, 1, 'aborted'],
      [0, 2, 'completed'],
      [1, 1, 'completed'],
    ]);
    // Three charged attempts, each once: the commits charge nothing more.
    expect(charges(second)).toHaveLength(2);
    const all = epsilonAfter([4, 4, 4]);
    expect(completed(second).at(-1)!.epsilon).toBeCloseTo(all.spent(plan.delta).epsilon, 12);
    expect(completed(second).at(-1)!.epsilonVsCoordinator).toBeCloseTo(all.spent(plan.delta).epsilon, 12);
    expect(charges(second).at(-1)!.ledger!.rdp).toEqual(all.rdp());
  });

  it('a shutdown after the unmask requests records the attempt as aborted and charged', async () => {
    const clock = new VirtualClock();
    const engine = new RunEngine(setupOf(config), { now: clock.now, random: seeded(1), seeds: seeded(2) });
    const persisted: PersistOp[] = [];
    let cut = false;
    await expect(
      runInMemory({
        engine,
        clock,
        clients: Array.from({ length: 4 }, (_, i) => ({ clientId: `client-${i}`, miniClients: 1, make: fakeClient({ update: (r, j) => update(i, r, j) }) })),
        observe: (c) => {
          if (c.kind === 'persist') persisted.push(c.what);
          if (isUnmaskRequest(c)) cut = true;
        },
        interject: () => {
          if (cut !== true) return null;
          cut = false;
          return { type: 'shutdown' };
        },
      }),
    ).rejects.toThrow(/stalled/);
    const eps = epsilonAfter([4]).spent(plan.delta).epsilon;
    expect(engine.rounds).toEqual([expect.objectContaining({ status: 'aborted', error: 'coordinator shutting down', parties: 4 })]);
    expect(engine.rounds[0]!.epsilon).toBeCloseTo(eps, 12);
    expect(persisted.filter((p) => p.op === 'stage' && p.charge)).toHaveLength(1);
  });
});

describe('RunEngine: Poisson selection releases the sum over the expected sample size (issue 12 §5)', () => {
  it('the mean divides by q·N, not by how many took part', async () => {
    const q = 0.5;
    const population = 12;
    const config = engineTestConfig({ rounds: 3, minClients: 3, selection: { sampleRate: q, population, maxShortfall: 0.03 } });
    const h = await drive(config, { clients: 12 });
    expect(h.result.state).toBe('completed');
    const plan = planDdg(config, DIM);
    const seeds = new Map<string, Uint8Array>();
    for (const c of h.commands) {
      if (c.kind !== 'send' || c.event !== 'task') continue;
      const t = taskMessageSchema.parse(unpack(c.payload));
      seeds.set(t.roundId, t.rotationSeed.slice());
    }
    const rels = releases(h);
    expect(rels).toHaveLength(3);
    // The realized counts vary (else the test could not tell the two divisors apart).
    expect(rels.some((r) => r.summary.contributors !== q * population)).toBe(true);
    for (const rel of rels) {
      const roundId = roundIdOf('run-test', rel.summary.round, rel.summary.attempt);
      const sum = new Uint32Array(plan.dimPadded);
      for (const id of rel.included) addInPlace(sum, h.logs.get(id)!.inputs.get(roundId)!, plan.params.bits);
      const want = decodeDdg(sum, plan.params, seeds.get(roundId)!, 1)
        .slice(0, DIM)
        .map((v) => v * (1 / (q * population)));
      expect(rel.mean).toEqual(want);
    }
  });
});

describe('RunEngine: one bad participant cannot stop a run (issue 13 §1)', () => {
  it('a client that poisons its share boxes is blamed, excluded (persisted) and costs no counted attempt; the run completes', async () => {
    // 5 clients, 4 per round, maxAttempts 1: an attempt with client-0 in it aborts, blamed on client-0.
    const config = engineTestConfig({ rounds: 4, minClients: 3, selection: { clientsPerRound: 4 }, maxAttempts: 1 });
    const h = await drive(config, { clients: 5, tamper: (i) => (i === 0 ? poisonShareBoxes : undefined) });
    expect(h.result.state).toBe('completed');
    expect(completed(h)).toHaveLength(4);
    const aborted = h.engine.rounds.filter((r) => r.status === 'aborted');
    expect(aborted.length).toBeGreaterThan(0);
    for (const r of aborted) {
      expect(r.excused).toMatch(/misbehaving parties accused: client-0/);
      // Blamed at the close of MaskedInputCollection: nothing was unmasked, nothing charged.
      expect(r.parties ?? null).toBeNull();
    }
    expect(aborted).toHaveLength(1);
    const exclusions = h.persisted.filter((p) => p.op === 'party-excluded');
    expect(exclusions).toEqual([
      expect.objectContaining({ op: 'party-excluded', clientId: 'client-0', reason: expect.stringMatching(/share boxes to .* did not open/) }),
    ]);
    // Never selected again after the exclusion.
    const after = h.engine.rounds.slice(h.engine.rounds.indexOf(aborted[0]!) + 1);
    expect(after.every((r) => r.status === 'completed')).toBe(true);
    expect(h.engine.status('client-0')).toMatchObject({ excluded: 1, excludedReason: expect.stringMatching(/share boxes to .* did not open/) });
  });

  it('one wrong unmask share is corrected, and not held against its holder: its dealer may have sealed it wrong', async () => {
    const config = engineTestConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 5 }, maxAttempts: 1 });
    const h = await drive(config, { clients: 6, tamper: (i) => (i === 1 ? flipFirstUnmaskShare : undefined) });
    expect(h.result.state).toBe('completed');
    expect(h.engine.rounds.every((r) => r.status === 'completed')).toBe(true);
    // One dealer's word (maxColluders 1): the dealer and the holder could be lying alike.
    expect(h.engine.excludedParties.size).toBe(0);
    expect(h.commands.some((c) => c.kind === 'log' && /accused on the word of 1 party, no more than may collude/.test(c.message))).toBe(true);
  });

  it('wrong unmask shares for several dealers’ secrets are corrected and their holder excluded', async () => {
    const config = engineTestConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 5 }, maxAttempts: 1 });
    const h = await drive(config, { clients: 6, tamper: (i) => (i === 1 ? flipAllUnmaskShares : undefined) });
    expect(h.result.state).toBe('completed');
    expect(h.engine.rounds.every((r) => r.status === 'completed')).toBe(true);
    expect(h.engine.excludedParties.get('client-1')).toMatch(
      /sent wrong unmask shares of .* \(on the word of [2-9] parties, more than the 1 that may collude\)/,
    );
  });

  it('excluded parties stay excluded in a run resumed from its persisted state', async () => {
    const config = engineTestConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 3 } });
    const excluded = [{ clientId: 'client-0', reason: 'sent wrong unmask shares' }];
    const h = await drive(config, { clients: 4, setup: { excluded } });
    expect(h.result.state).toBe('completed');
    const selected = h.commands.flatMap((c) => (c.kind === 'notify' && c.notice.type === 'round-start' ? c.notice.selected : []));
    expect(selected).not.toContain('client-0');
  });

  it('resumeRefusal says when a persisted run cannot go on, and attemptFloor forgives earlier attempts', async () => {
    const config = engineTestConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 3 }, maxAttempts: 1 });
    expect(RunEngine.resumeRefusal(setupOf(config))).toBeNull();
    expect(RunEngine.resumeRefusal(setupOf(config, { completedRound: 1 }))).toBe('all 2 rounds are done');
    const failedAttempt: RoundRecord = { ...emptyRecord(0, 1, 0), selected: 3, status: 'aborted', error: 'x', finishedAt: 1 };
    // Without the floor the run fails at once (one counted abort, maxAttempts 1); with it, it completes.
    const stuck = await drive(config, { clients: 3, setup: { rounds: [failedAttempt] } });
    expect(stuck.result.state).toBe('failed');
    const resumed = await drive(config, { clients: 3, setup: { rounds: [failedAttempt], attemptFloor: 1 } });
    expect(resumed.result.state).toBe('completed');
    expect(resumed.engine.rounds.filter((r) => r.round === 0).map((r) => r.attempt)).toEqual([1, 2]);
  });
});

describe('RunEngine: no silent stall (issue 13 §3)', () => {
  const config = engineTestConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 3 } });
  const started = async () => {
    const r = await startedWithThree(config);
    expect(r.engine.status().state).toBe('running');
    return r;
  };

  it('the watchdog aborts a stage still open well past its deadline (its timer lost), loudly, and the run goes on', async () => {
    const { clock, engine } = await started();
    const deadline = config.deadlines.training * 1000;
    clock.advanceTo(deadline + WATCHDOG_GRACE_MS - 1);
    expect((await engine.handle({ type: 'tick' })).some((c) => c.kind === 'log' && c.level === 'error')).toBe(false);
    clock.advanceTo(deadline + WATCHDOG_GRACE_MS + 1000);
    const out = await engine.handle({ type: 'tick' });
    expect(out).toContainEqual(
      expect.objectContaining({
        kind: 'log',
        level: 'error',
        message: expect.stringMatching(/^watchdog: stage advertise-keys is still open 6 s after its deadline/),
      }),
    );
    expect(engine.rounds.map((r) => [r.status, r.error])).toEqual([['aborted', 'watchdog: stage advertise-keys is still open 6 s after its deadline']]);
    expect(out).toContainEqual({ kind: 'start-timer', key: NEXT_ROUND_TIMER, ms: expect.any(Number) });
  });

  it('a store failure aborts the attempt without counting it; a store failing for 30 s over MAX_STORE_FAILURES attempts pauses the run', async () => {
    const { clock, engine } = await started();
    const out = await engine.handle({ type: 'store-failed', error: 'SQLITE_BUSY: database is locked' });
    expect(engine.rounds[0]).toMatchObject({
      status: 'aborted',
      error: 'store error: SQLITE_BUSY: database is locked',
      excused: 'a store error, not the parties',
    });
    expect(out).toContainEqual(expect.objectContaining({ kind: 'log', level: 'error' }));
    // A write failing between attempts (the abort's own record) is logged, not counted.
    await engine.handle({ type: 'store-failed', error: 'SQLITE_BUSY: database is locked' });
    // A short lock is ridden out: two more aborted attempts within seconds do not pause the run…
    for (let i = 1; i < MAX_STORE_FAILURES; i++) {
      await engine.handle({ type: 'timer', key: NEXT_ROUND_TIMER });
      clock.advanceTo(clock.now() + 1000);
      await engine.handle({ type: 'store-failed', error: 'SQLITE_BUSY: database is locked' });
    }
    expect(engine.state).toBe('running');
    // …but one still failing after STORE_PAUSE_AFTER_MS does, with the reason.
    await engine.handle({ type: 'timer', key: NEXT_ROUND_TIMER });
    clock.advanceTo(clock.now() + STORE_PAUSE_AFTER_MS);
    const last = await engine.handle({ type: 'store-failed', error: 'SQLITE_FULL: database or disk is full' });
    expect(engine.state).toBe('paused');
    expect(last).toContainEqual(
      expect.objectContaining({
        kind: 'persist',
        what: expect.objectContaining({
          op: 'run-state',
          state: 'paused',
          reason: expect.stringMatching(
            new RegExp(
              `^the store failed in ${MAX_STORE_FAILURES + 1} attempts over ${STORE_PAUSE_AFTER_MS / 1000 + MAX_STORE_FAILURES - 1} s \\(last: SQLITE_FULL`,
            ),
          ),
        }),
      }),
    );
    expect(engine.rounds.every((r) => r.excused === 'a store error, not the parties')).toBe(true);
    // Resumed by the operator once the store works, it goes on, its store count started afresh.
    await engine.handle({ type: 'operator', command: 'resume' });
    expect(engine.status().state).toBe('running');
  });
});
