/**
 * The population of the liveness soak (issue 13, soak.bench.ts), in a process of its own so the coordinator's
 * process holds only the coordinator when its memory is sampled: share-poisoning attackers, idle Sybils,
 * honest Node clients (MNIST on tfjs WASM) and one honest client that drops its connection and resumes its
 * identity in a loop. Started by `fork` with the options as JSON in argv[2]; talks to its parent over IPC.
 *
 * Parent → child: `{ type: 'stop' }`. Child → parent: `{ type: 'ready', ... }` once everyone has joined,
 * `{ type: 'stats', stats }` after a stop, `{ type: 'error', message }` when joining failed.
 */
import { poisonShareBoxes } from '@hushfl/engine/testing';
import { connectNodeClient, initNodeTf } from '@hushfl/node';
import { EVENTS, type RunConfigInput, unpack } from '@hushfl/protocol';
import { attacker, idleSybil, type RawClient, startClients } from '../src/testing.ts';

export interface SoakPopulation {
  readonly url: string;
  readonly config: RunConfigInput;
  readonly honest: number;
  readonly sybils: number;
  readonly poisoners: number;
  /** The reconnecting client drops its connection at most this often (ms)… */
  readonly reconnectEveryMs: number;
  /** …within this long of a task (ms)… */
  readonly dropWithinMs: number;
  /** …and stays away up to this long (ms, uniform from 50) before it resumes. */
  readonly reconnectDownMs: number;
}

export interface SoakClientStats {
  readonly reconnector: {
    readonly clientId: string;
    /** Times the loop dropped the connection, and of those, while it had a task of an attempt in progress. */
    readonly drops: number;
    readonly dropsInRound: number;
    /** Connections opened after the first (each one a hello that resumes the identity). */
    readonly reconnects: number;
    /** Bytes of Socket.IO data frames the coordinator sent it after its first join (text and binary). */
    readonly bytesReceived: number;
    /** Task messages received per attempt (roundId): the first send plus at most one replay per attempt. */
    readonly tasksPerAttempt: Readonly<Record<string, number>>;
    /** Rounds whose released sum held its update, by its own records. */
    readonly included: number;
    readonly byes: readonly string[];
    readonly logs: readonly string[];
  };
  readonly poisonerIds: readonly string[];
  readonly honestIds: readonly string[];
  /** Liveness probes the idle Sybils received in all (they never echo one). */
  readonly sybilProbes: number;
  /** Sybils whose connection the coordinator closed. */
  readonly sybilsDisconnected: number;
  readonly attackerErrors: readonly string[];
  readonly honestLogs: readonly string[];
  /** Honest clients whose connection the coordinator closed (their `bye` is in honestLogs). */
  readonly honestClosed: readonly string[];
}

const CAP = 50;
const keep = (list: string[], line: string) => void (list.length < CAP && list.push(line));
const byteLength = (d: unknown): number =>
  typeof d === 'string' ? Buffer.byteLength(d) : d instanceof ArrayBuffer || ArrayBuffer.isView(d) ? d.byteLength : 0;

async function main(p: SoakPopulation): Promise<void> {
  await initNodeTf(); // the attackers size their updates from a model built on it
  // Everyone joins before the run is created (soak.bench.ts), so its first selection draws from all of them.
  const poisoners: Awaited<ReturnType<typeof attacker>>[] = [];
  for (let i = 0; i < p.poisoners; i++) poisoners.push(await attacker(p.url, p.config, poisonShareBoxes));
  let sybilProbes = 0;
  let sybilsDisconnected = 0;
  const sybils: RawClient[] = [];
  for (let i = 0; i < p.sybils; i++) {
    const s = await idleSybil(p.url, `sybil${i}`);
    s.on(EVENTS.liveness, () => sybilProbes++);
    s.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') sybilsDisconnected++;
    });
    sybils.push(s);
  }
  const honestLogs: string[] = [];
  const honest = await startClients(p.url, p.honest, (i) => ({ name: `honest${i}`, log: (m) => keep(honestLogs, m) }));
  // An honest client does not reconnect on its own: one the coordinator closes is gone for the run.
  const honestClosed: string[] = [];
  for (const h of honest)
    h.socket.on('disconnect', (reason) => {
      if (reason === 'io server disconnect') honestClosed.push(h.clientId);
    });

  const logs: string[] = [];
  const byes: string[] = [];
  const r = await connectNodeClient({ url: p.url, name: 'reconnector', log: (m) => keep(logs, m) });
  let bytesReceived = 0;
  const count = (d: unknown) => (bytesReceived += byteLength(d));
  // Each connection is a new Engine.IO socket: count on every one.
  r.socket.io.engine.on('data', count);
  r.socket.io.on('open', () => r.socket.io.engine.on('data', count));
  const tasks = new Map<string, number>();
  r.socket.on(EVENTS.bye, (bye: { reason?: unknown }) => keep(byes, String(bye?.reason)));
  let reconnects = 0;
  r.socket.on('connect', () => reconnects++);
  // The loop: as often as the gateway lets one identity resume (reconnectEveryMs apart), the connection is
  // dropped, at a random point of a round the client was selected into where it can, on a timer otherwise,
  // and comes back after a random pause — at times within the same attempt, which the coordinator then replays.
  let drops = 0;
  let dropsInRound = 0;
  const loopStart = performance.now();
  let lastDrop = Number.NEGATIVE_INFINITY; // the first task it gets is dropped from
  let down = false;
  let pending: NodeJS.Timeout | null = null;
  let stopped = false;
  const drop = (inRound: boolean) => {
    pending = null;
    if (stopped || down) return;
    down = true;
    drops++;
    if (inRound) dropsInRound++;
    lastDrop = performance.now();
    r.socket.disconnect();
    setTimeout(
      () => {
        down = false;
        if (!stopped) r.socket.connect(); // the session's hello resumes the same identity
      },
      50 + Math.random() * (p.reconnectDownMs - 50),
    );
  };
  r.socket.on(EVENTS.task, (payload: unknown) => {
    const roundId = (unpack(payload) as { roundId?: unknown }).roundId;
    if (typeof roundId !== 'string') return;
    const seen = tasks.get(roundId) ?? 0;
    tasks.set(roundId, seen + 1);
    if (seen === 0 && !pending && !down && performance.now() - lastDrop >= p.reconnectEveryMs)
      pending = setTimeout(() => drop(true), Math.random() * p.dropWithinMs);
  });
  const idle = setInterval(() => {
    if (!pending && performance.now() - Math.max(lastDrop, loopStart) >= 2 * p.reconnectEveryMs) drop(false);
  }, 500);

  process.send?.({ type: 'ready', reconnectorId: r.clientId, poisonerIds: poisoners.map((a) => a.clientId), honestIds: honest.map((h) => h.clientId) });

  process.on('message', async (m: { type?: string }) => {
    if (m?.type !== 'stop') return;
    stopped = true;
    clearInterval(idle);
    if (pending) clearTimeout(pending);
    const stats: SoakClientStats = {
      reconnector: {
        clientId: r.clientId,
        drops,
        dropsInRound,
        reconnects,
        bytesReceived,
        tasksPerAttempt: Object.fromEntries(tasks),
        included: r.runtime.metrics.rounds.filter((x) => x.included).length,
        byes,
        logs,
      },
      poisonerIds: poisoners.map((a) => a.clientId),
      honestIds: honest.map((h) => h.clientId),
      sybilProbes,
      sybilsDisconnected,
      attackerErrors: poisoners.flatMap((a) => a.errors.map(String)).slice(0, CAP),
      honestLogs,
      honestClosed,
    };
    for (const a of poisoners) a.close();
    for (const s of sybils) s.close();
    for (const h of honest) await h.close();
    await r.close();
    process.send?.({ type: 'stats', stats }, () => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0)); // the parent went away
}

if (process.send) {
  main(JSON.parse(process.argv[2] ?? '{}') as SoakPopulation).catch((e: unknown) => {
    process.send?.({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    process.exit(1);
  });
}
