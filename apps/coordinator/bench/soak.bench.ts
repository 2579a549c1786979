/**
 * The liveness soak of issue 13 ("Liveness under attack"; docs/PROTOCOL.md "Misbehaving parties"): a real
 * coordinator on loopback runs a whole run while share-poisoning attackers, idle Sybils and one client that
 * reconnects in a loop take part beside honest Node clients. Done when every round completes and the
 * coordinator's memory stays flat.
 *
 * The coordinator runs in this process and the clients in a child (soakClients.ts), so the memory sampled
 * here — after a full GC, when each round is released — is the coordinator's alone (the clients' tfjs heaps
 * and sockets live elsewhere), and the two processes use both cores. The run is created once every client
 * has joined, so its first selection draws from the whole population.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseRunConfig, type RunConfigInput } from '@hushfl/protocol';
import { figure, type Figure } from '../../../bench/lib.ts';
import { createCoordinator } from '../src/app.ts';
import type { CoordinatorEvent } from '../src/runManager.ts';
import { testConfig } from '../src/testing.ts';
import type { SoakClientStats, SoakPopulation } from './soakClients.ts';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..', '..', '..');
const CLIENTS = join(here, 'soakClients.ts');
/** The default task's data shards: every identity holds one, so they bound the population (gateway.ts). */
const SHARDS = 667;
const MiB = 2 ** 20;
/** Rounds released before the memory reference is taken (module loading, JIT, first-round caches). */
export const WARMUP_ROUNDS = 5;
/** Memory is flat when it grew by at most this fraction of the reference from the reference round to the last… */
export const MAX_GROWTH = 0.1;

export interface SoakOptions {
  readonly rounds: number;
  readonly sybils: number;
  readonly poisoners: number;
  /** Honest clients besides the reconnecting one. */
  readonly honest: number;
  readonly clientsPerRound: number;
  readonly minClients: number;
  readonly maxAttempts: number;
  /** Seconds: local training plus AdvertiseKeys; each attempt an idle Sybil is selected into lasts this long. */
  readonly trainingDeadline: number;
  /** Seconds: every other stage. */
  readonly stageDeadline: number;
  /**
   * The reconnecting client drops its connection at most this often (the gateway closes an identity that
   * resumes more than 10 times a minute), within dropWithinMs of a task where it has one, and comes back after
   * up to reconnectDownMs.
   */
  readonly reconnectEveryMs: number;
  readonly dropWithinMs: number;
  readonly reconnectDownMs: number;
  /** Local epochs: paces the rounds (and so how many of them the reconnect loop lands in). */
  readonly epochs: number;
  /** No round released nor aborted for this long: a stall; the run is stopped and the soak fails. */
  readonly stallMs: number;
  readonly timeoutMs: number;
  readonly onProgress?: (line: string) => void;
}

export const SOAK_DEFAULTS: Omit<SoakOptions, 'onProgress'> = {
  rounds: 30,
  sybils: 40,
  poisoners: 2,
  honest: 6,
  clientsPerRound: 5,
  minClients: 3,
  maxAttempts: 3,
  trainingDeadline: 6,
  stageDeadline: 5,
  reconnectEveryMs: 6_500,
  dropWithinMs: 1_500,
  reconnectDownMs: 1_500,
  epochs: 10,
  stallMs: 120_000,
  timeoutMs: 30 * 60_000,
};

/** `--quick`: a smoke test that finishes in well under a minute. */
export const SOAK_QUICK: Partial<SoakOptions> = { rounds: 3, sybils: 6, honest: 5 };

export function soakConfig(
  o: Pick<SoakOptions, 'rounds' | 'clientsPerRound' | 'minClients' | 'maxAttempts' | 'trainingDeadline' | 'stageDeadline' | 'epochs'>,
) {
  const s = o.stageDeadline;
  return testConfig({
    rounds: o.rounds,
    minClients: o.minClients,
    selection: { clientsPerRound: o.clientsPerRound },
    maxAttempts: o.maxAttempts,
    task: { shards: SHARDS },
    deadlines: { training: o.trainingDeadline, shareKeys: s, maskedInput: s, consistencyCheck: s, unmasking: s },
    training: { epochs: o.epochs, batchSize: 16, learningRate: 0.1 },
  }) satisfies RunConfigInput;
}

export interface MemorySample {
  /** Rounds released so far (1 = after the first). */
  readonly released: number;
  readonly atMs: number;
  /** heapUsed + external after a full GC: what the coordinator holds, typed-array buffers included. */
  readonly heapExternal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly rss: number;
}

export interface SoakReport {
  readonly ok: boolean;
  /** Why the soak failed, one line each; empty when it passed. */
  readonly failures: readonly string[];
  readonly figures: Figure[];
  readonly details: Record<string, unknown>;
}

function fullGc(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function memory(released: number, t0: number): MemorySample {
  const m = process.memoryUsage();
  return { released, atMs: Math.round(performance.now() - t0), heapExternal: m.heapUsed + m.external, heapUsed: m.heapUsed, external: m.external, rss: m.rss };
}

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The coordinator's log, tallied by message (distinct messages are few); warnings and errors kept, capped. */
class LogTally {
  readonly counts = new Map<string, number>();
  readonly warnings: { level: string; msg: string; count: number; first: string }[] = [];

  write(line: string): void {
    let entry: { level?: number; msg?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    const msg = entry.msg ?? '';
    this.counts.set(msg, (this.counts.get(msg) ?? 0) + 1);
    if ((entry.level ?? 0) < 40) return;
    const seen = this.warnings.find((w) => w.msg === msg);
    if (seen) seen.count++;
    else if (this.warnings.length < 50) this.warnings.push({ level: (entry.level ?? 0) >= 50 ? 'error' : 'warn', msg, count: 1, first: line.slice(0, 600) });
  }

  matching(part: string): number {
    let n = 0;
    for (const [msg, count] of this.counts) if (msg.includes(part)) n += count;
    return n;
  }
}

type ChildMessage =
  | { type: 'ready'; reconnectorId: string; poisonerIds: string[]; honestIds: string[] }
  | { type: 'stats'; stats: SoakClientStats }
  | { type: 'error'; message: string };

function nextMessage<T extends ChildMessage['type']>(child: ChildProcess, type: T, ms: number): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`the client process sent no '${type}' within ${ms / 1000} s`)), ms);
    const onMessage = (m: ChildMessage) => {
      if (m.type === type) done(null, m as Extract<ChildMessage, { type: T }>);
      else if (m.type === 'error') done(new Error(`the client process failed: ${m.message}`));
    };
    const onExit = (code: number | null) => done(new Error(`the client process exited (${code}) before sending '${type}'`));
    const done = (e: Error | null, m?: Extract<ChildMessage, { type: T }>) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (e) reject(e);
      else resolve(m!);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** The last lines a stream wrote, for evidence when something goes wrong. */
function tail(stream: NodeJS.ReadableStream | null, keep = 40): string[] {
  const lines: string[] = [];
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) if (line.trim()) lines.push(line.slice(0, 400));
    if (lines.length > keep) lines.splice(0, lines.length - keep);
  });
  return lines;
}

const mib = (b: number) => Math.round((b / MiB) * 100) / 100;

export async function runSoak(input: Partial<SoakOptions> = {}): Promise<SoakReport> {
  const o: SoakOptions = { ...SOAK_DEFAULTS, ...input };
  const progress = o.onProgress ?? (() => {});
  const population = o.sybils + o.poisoners + o.honest + 1;
  if (population > SHARDS)
    throw new Error(
      `${o.sybils} Sybils + ${o.poisoners} poisoners + ${o.honest} honest + 1 reconnecting client = ${population} identities: at most ${SHARDS} fit the task's data shards`,
    );
  if (o.clientsPerRound > o.honest)
    throw new Error(`clientsPerRound ${o.clientsPerRound} > honest ${o.honest}: the run must be able to complete with the honest clients alone`);
  const config = soakConfig(o);
  const gc = fullGc();
  const t0 = performance.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'hushfl-soak-'));
  const log = new LogTally();
  const c = await createCoordinator({ port: 0, dataDir, logLevel: 'info', logStream: log, operatorToken: 'soak-operator-token-0123456789' });
  const failures: string[] = [];
  let child: ChildProcess | null = null;
  try {
    const pop: SoakPopulation = {
      url: c.url,
      config,
      honest: o.honest,
      sybils: o.sybils,
      poisoners: o.poisoners,
      reconnectEveryMs: o.reconnectEveryMs,
      dropWithinMs: o.dropWithinMs,
      reconnectDownMs: o.reconnectDownMs,
    };
    child = fork(CLIENTS, [JSON.stringify(pop)], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const childOut = tail(child.stdout);
    const childErr = tail(child.stderr);
    progress(`soak: connecting ${o.poisoners} poisoners, ${o.sybils} idle Sybils, ${o.honest} honest clients and 1 reconnecting client…`);
    const ready = await nextMessage(child, 'ready', 180_000);
    const joinedMs = performance.now() - t0;

    // Every round's end, sampled after a full GC once the event's handlers have run.
    const samples: MemorySample[] = [];
    const sampling: Promise<void>[] = [];
    gc();
    const before = memory(0, t0);
    const recent: string[] = [];
    const roundStarts: { round: number; attempt: number; selected: number; reconnector: boolean }[] = [];
    let reconnectorInReleased = 0;
    const known = new Set([...ready.honestIds, ...ready.poisonerIds, ready.reconnectorId]);
    let sybilSelections = 0;
    /** Attempts the reconnecting client was dropped from, by the stage it was dropped at. */
    const reconnectorDroppedAt: Record<string, number> = {};
    let lastProgress = performance.now();
    let released = 0;
    c.manager.on('event', (e: CoordinatorEvent) => {
      if (e.type === 'progress' || e.type === 'clients') return;
      const at = ((performance.now() - t0) / 1000).toFixed(1);
      if (e.type === 'round-start') {
        lastProgress = performance.now();
        roundStarts.push({ round: e.round, attempt: e.attempt, selected: e.selected.length, reconnector: e.selected.includes(ready.reconnectorId) });
        sybilSelections += e.selected.filter((id) => !known.has(id)).length;
        recent.push(`${at}s round-start ${e.round}#${e.attempt} selected ${e.selected.length}`);
      } else if (e.type === 'stage')
        recent.push(`${at}s stage ${e.round}#${e.attempt} ${e.stage} ${e.phase}${e.dropped.length ? ` dropped ${e.dropped.length}` : ''}`);
      else if (e.type === 'round') {
        lastProgress = performance.now();
        recent.push(`${at}s round ${e.round}#${e.attempt} ${e.status}${e.error ? `: ${e.error}` : ''}`);
        const droppedAt = e.droppedClients[ready.reconnectorId];
        if (droppedAt) reconnectorDroppedAt[droppedAt] = (reconnectorDroppedAt[droppedAt] ?? 0) + 1;
        if (e.status === 'completed') {
          released++;
          if (e.included?.includes(ready.reconnectorId)) reconnectorInReleased++;
          const n = released;
          // Two full GCs apart: some typed-array backing stores (~22 MiB here) are only freed by the second.
          sampling.push(
            new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
              gc();
              await new Promise((r) => setTimeout(r, 50));
              gc();
              const s = memory(n, t0);
              samples.push(s);
              progress(
                `round ${e.round + 1}/${o.rounds} released (attempt ${e.attempt}, ${e.parties} parties) at ${(s.atMs / 1000).toFixed(1)} s; heap+external ${mib(s.heapExternal)} MiB, rss ${mib(s.rss)} MiB`,
              );
            }),
          );
        } else progress(`round ${e.round + 1} attempt ${e.attempt} aborted: ${e.error}`);
      } else recent.push(`${at}s ${e.type} ${JSON.stringify(e).slice(0, 200)}`);
      if (recent.length > 60) recent.splice(0, recent.length - 60);
    });

    const runId = await c.manager.createRun(parseRunConfig(config));
    progress(`soak: ${population} clients joined in ${(joinedMs / 1000).toFixed(1)} s; run ${runId} started (${o.rounds} rounds)`);
    const runStart = performance.now();
    let watch: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      c.manager.whenIdle().then(() => 'ended' as const),
      new Promise<'stall' | 'timeout'>((resolve) => {
        watch = setInterval(() => {
          if (performance.now() - lastProgress > o.stallMs) resolve('stall');
          else if (performance.now() - runStart > o.timeoutMs) resolve('timeout');
        }, 1_000);
      }),
    ]);
    clearInterval(watch);
    const runMs = performance.now() - runStart;
    let stall: Record<string, unknown> | null = null;
    if (outcome !== 'ended') {
      // Evidence first, then stop the run so the soak can report.
      stall = { outcome, afterMs: Math.round(runMs), status: c.manager.status(), recentEvents: [...recent], lastRounds: c.sqlite!.rounds(runId).slice(-5) };
      const waiting = c.manager.status().message;
      failures.push(
        `${
          outcome === 'stall'
            ? `stall: no round started, released or aborted for ${o.stallMs / 1000} s (at ${(runMs / 1000).toFixed(0)} s into the run)`
            : `timeout: the run had not ended after ${o.timeoutMs / 1000} s`
        }${waiting ? `; the coordinator says: ${waiting}` : ''}`,
      );
      await c.manager.stop(runId, `soak: ${outcome}`).catch(() => undefined);
      await Promise.race([c.manager.whenIdle(), new Promise((r) => setTimeout(r, 30_000))]);
    }
    await Promise.all(sampling); // the last round's sample

    const run = c.sqlite!.run(runId)!;
    const rows = c.sqlite!.rounds(runId);
    const excluded = c.sqlite!.excludedParties(runId);
    const gateway = c.gatewayStats();
    child.send({ type: 'stop' });
    const clients = (await nextMessage(child, 'stats', 60_000)).stats;

    // ---------------------------------------------------------------- checks
    const completed = rows.filter((r) => r.state === 'completed');
    const aborted = rows.filter((r) => r.state === 'aborted');
    const excused = aborted.filter((r) => r.excused);
    if (run.state !== 'completed') failures.push(`the run ended '${run.state}': ${run.reason ?? 'no reason'}`);
    if (completed.length !== o.rounds) failures.push(`${completed.length} of ${o.rounds} rounds completed`);
    const poisonersExcluded = ready.poisonerIds.filter((id) => excluded.some((x) => x.client_id === id)).length;
    if (poisonersExcluded !== o.poisoners) failures.push(`${poisonersExcluded} of ${o.poisoners} share-poisoning clients were excluded`);
    const honestExcluded = excluded.filter((x) => ready.honestIds.includes(x.client_id) || x.client_id === ready.reconnectorId);
    if (honestExcluded.length) failures.push(`honest clients excluded: ${honestExcluded.map((x) => `${x.client_id} (${x.reason})`).join('; ')}`);
    const maxTasks = Math.max(0, ...Object.values(clients.reconnector.tasksPerAttempt));
    if (maxTasks > 2) failures.push(`the reconnecting client got one attempt's task ${maxTasks} times (at most the first send and one replay)`);
    const watchdog = log.matching('watchdog');
    if (watchdog) failures.push(`the watchdog aborted ${watchdog} stalled stage(s)`);
    if (clients.reconnector.byes.length) failures.push(`the reconnecting client was sent away: ${clients.reconnector.byes.join('; ')}`);
    if (clients.honestClosed.length)
      failures.push(
        `the coordinator closed ${clients.honestClosed.length} honest client(s): ${clients.honestLogs.filter((l) => l.includes('bye')).join('; ')}`,
      );

    // Memory: the median of three samples from round WARMUP_ROUNDS on, against the median of the last three
    // (one sample caught mid-free does not decide it). Runs too short for a warm-up start at the first.
    const from = samples.length >= WARMUP_ROUNDS + 3 ? WARMUP_ROUNDS : 1;
    const refWindow = samples.filter((s) => s.released >= from).slice(0, 3);
    const lastWindow = samples.slice(-3);
    const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const refMem = median(refWindow.map((s) => s.heapExternal));
    const lastMem = median(lastWindow.map((s) => s.heapExternal));
    const growth = lastMem - refMem;
    const growthFraction = refMem ? growth / refMem : 0;
    const steady = samples.filter((s) => s.released >= from);
    const perRound = slope(steady.map((s) => [s.released, s.heapExternal]));
    const heapPerRound = slope(steady.map((s) => [s.released, s.heapUsed]));
    const rssPerRound = slope(steady.map((s) => [s.released, s.rss]));
    const ref = samples.find((s) => s.released === from);
    const last = samples.at(-1);
    if (!ref || !last) failures.push('no memory sample: no round was released');
    else if (growthFraction > MAX_GROWTH)
      failures.push(
        `coordinator memory not flat: heap+external grew ${mib(growth)} MiB (${(growthFraction * 100).toFixed(1)}% > ${MAX_GROWTH * 100}%) from rounds ${refWindow[0]!.released}–${refWindow.at(-1)!.released} to ${lastWindow[0]!.released}–${last.released}`,
      );

    const inputs = {
      rounds: o.rounds,
      sybils: o.sybils,
      poisoners: o.poisoners,
      honest: o.honest,
      reconnecting: 1,
      clientsPerRound: o.clientsPerRound,
      trainingDeadlineS: o.trainingDeadline,
      maxAttempts: o.maxAttempts,
    };
    const memInputs = { ...inputs, from, to: last?.released ?? 0 };
    const figures: Figure[] = [
      figure({
        name: 'soak-rounds-completed',
        inputs,
        value: completed.length,
        unit: 'rounds',
        target: { op: '>=', value: o.rounds },
        note: `run ${run.state}${run.reason ? `: ${run.reason}` : ''}`,
      }),
      figure({
        name: 'soak-wall-time',
        inputs,
        value: Math.round(runMs / 100) / 10,
        unit: 's',
        note: `plus ${(joinedMs / 1000).toFixed(1)} s for the clients to join`,
      }),
      figure({
        name: 'soak-attempts-aborted',
        inputs,
        value: aborted.length,
        unit: 'attempts',
        note: `${excused.length} excused (do not count toward maxAttempts)`,
      }),
      figure({
        name: 'soak-attempts-counted',
        inputs,
        value: aborted.length - excused.length,
        unit: 'attempts',
        note: 'aborted attempts no party was blamed for, all rounds together',
      }),
      figure({ name: 'soak-poisoners-excluded', inputs, value: poisonersExcluded, unit: 'parties', target: { op: '>=', value: o.poisoners } }),
      figure({ name: 'soak-parties-excluded', inputs, value: excluded.length, unit: 'parties', note: 'excluded for the rest of the run (excluded_parties)' }),
      figure({
        name: 'soak-sybil-probes',
        inputs,
        value: clients.sybilProbes,
        unit: 'probes',
        note: `liveness probes the idle Sybils got (never echoed); ${log.matching('not selected until it answers a liveness probe')} parties re-probed after 2 silent attempts`,
      }),
      figure({
        name: 'soak-sybil-selections',
        inputs,
        value: sybilSelections,
        unit: 'selections',
        note: 'times an idle Sybil was selected into an attempt',
      }),
      figure({ name: 'soak-watchdog-aborts', inputs, value: watchdog, unit: 'stages', target: { op: '<=', value: 0 } }),
      figure({
        name: 'soak-honest-closed',
        inputs,
        value: clients.honestClosed.length,
        unit: 'clients',
        target: { op: '<=', value: 0 },
        note: 'honest clients whose connection the coordinator closed',
      }),
      figure({
        name: 'soak-memory-growth',
        inputs: memInputs,
        value: Math.round(growthFraction * 1000) / 10,
        unit: '%',
        target: { op: '<=', value: MAX_GROWTH * 100 },
        note: `heap+external after full GCs, median of 3: ${mib(refMem)} → ${mib(lastMem)} MiB; round ${from}: ${mib(ref?.heapExternal ?? 0)}, round ${last?.released ?? 0}: ${mib(last?.heapExternal ?? 0)} MiB`,
      }),
      figure({
        name: 'soak-memory-slope',
        inputs: memInputs,
        value: Math.round(perRound / 1024),
        unit: 'KiB/round',
        note: 'least squares, heap+external after full GCs',
      }),
      figure({
        name: 'soak-heap-slope',
        inputs: memInputs,
        value: Math.round(heapPerRound / 1024),
        unit: 'KiB/round',
        note: `heapUsed ${mib(ref?.heapUsed ?? 0)} → ${mib(last?.heapUsed ?? 0)} MiB`,
      }),
      figure({
        name: 'soak-rss-slope',
        inputs: memInputs,
        value: Math.round(rssPerRound / 1024),
        unit: 'KiB/round',
        note: `rss ${mib(ref?.rss ?? 0)} → ${mib(last?.rss ?? 0)} MiB`,
      }),
      figure({
        name: 'soak-reconnects',
        inputs,
        value: clients.reconnector.reconnects,
        unit: 'reconnects',
        note: `at most every ${o.reconnectEveryMs / 1000} s, within ${o.dropWithinMs / 1000} s of a task, up to ${o.reconnectDownMs / 1000} s away`,
      }),
      figure({
        name: 'soak-reconnector-bytes',
        inputs,
        value: mib(clients.reconnector.bytesReceived),
        unit: 'MiB',
        note: 'Socket.IO frames the coordinator sent it',
      }),
      figure({
        name: 'soak-reconnector-tasks-per-attempt',
        inputs,
        value: maxTasks,
        unit: 'tasks',
        target: { op: '<=', value: 2 },
        note: 'most task messages one attempt sent it (first send + at most one replay)',
      }),
    ];
    const details = {
      ok: failures.length === 0,
      failures,
      memoryCriterion: `heapUsed + external of the coordinator's process after two full GCs, sampled as each round is released; flat when the median of the last 3 samples exceeds the median of the 3 from round ${WARMUP_ROUNDS} (round 1 in runs under ${WARMUP_ROUNDS + 3} rounds) by at most ${MAX_GROWTH * 100}%`,
      config,
      population: { ...ready, sybils: o.sybils },
      reconnect: { everyMs: o.reconnectEveryMs, dropWithinMs: o.dropWithinMs, downMaxMs: o.reconnectDownMs },
      run: { id: runId, state: run.state, reason: run.reason },
      attempts: rows.map((r) => ({
        round: r.round,
        attempt: r.attempt,
        state: r.state,
        selected: r.selected,
        parties: r.parties,
        error: r.error,
        excused: r.excused ?? null,
        bytesDown: r.bytes_down,
        bytesUp: r.bytes_up,
        ms: r.finished_at ? r.finished_at - r.started_at : null,
      })),
      roundStarts,
      excluded,
      reconnector: {
        ...clients.reconnector,
        selected: roundStarts.filter((r) => r.reconnector).length,
        inReleasedSums: reconnectorInReleased,
        droppedFromAttemptsAt: reconnectorDroppedAt,
        attemptsWithReplay: Object.values(clients.reconnector.tasksPerAttempt).filter((n) => n > 1).length,
        attemptsSentTask: Object.keys(clients.reconnector.tasksPerAttempt).length,
      },
      sybils: { probesReceived: clients.sybilProbes, disconnectedByCoordinator: clients.sybilsDisconnected },
      attackerErrors: clients.attackerErrors,
      honestLogs: clients.honestLogs,
      gateway,
      logCounts: Object.fromEntries([...log.counts].sort((a, b) => b[1] - a[1])),
      warnings: log.warnings,
      memory: {
        before,
        samples,
        referenceMedian: refMem,
        lastMedian: lastMem,
        growthBytes: growth,
        slopeBytesPerRound: Math.round(perRound),
        heapSlopeBytesPerRound: Math.round(heapPerRound),
      },
      stall,
      childOutput: { stdout: childOut, stderr: childErr },
    };
    return { ok: failures.length === 0, failures, figures, details };
  } finally {
    if (child && child.exitCode === null) child.kill();
    await c.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The `pnpm bench` suite: the soak's figures (targets missed when it failed) and its details. */
export async function benchSoak(options: { quick?: boolean } = {}) {
  const r = await runSoak({ ...(options.quick ? SOAK_QUICK : {}), onProgress: (line) => process.stderr.write(`  ${line}\n`) });
  for (const f of r.failures) process.stderr.write(`  soak FAILED: ${f}\n`);
  return { figures: r.figures, details: r.details, failures: r.failures };
}
