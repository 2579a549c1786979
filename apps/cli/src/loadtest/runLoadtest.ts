/**
 * The load generator behind `hushfl loadtest` and `pnpm bench scale` (issue 17 §3): a run created through the
 * operator API, N synthetic-update protocol clients spread over the coordinator URLs, and what was seen.
 */
import { availableParallelism } from 'node:os';
import { OperatorClient } from '@hushfl/operator-client';
import { startClientPool, type ClientPool } from '@hushfl/node-client';
import type { RunConfigInput } from '@hushfl/protocol';

/** Clients per worker thread by default. */
const CLIENTS_PER_THREAD = 40;

export interface LoadtestOptions {
  readonly urls: readonly string[];
  readonly token: string;
  readonly clients: number;
  readonly selected: number;
  readonly rounds: number;
  readonly dim: number;
  readonly bits: number;
  readonly deadlineS: number;
  readonly timeoutS: number;
  readonly maxColluders?: number;
  readonly workers?: number;
  /** Called about once a second with the rounds completed so far (a bench kills a leader from here). */
  readonly onProgress?: (p: { roundsCompleted: number; runningRound: number | null; connected: number }) => void | Promise<void>;
}

/** MNIST's one-hidden-layer MLP has 784·h + h + 10·h + 10 weights. */
function hiddenWidth(dim: number): number {
  return Math.max(1, Math.floor((dim - 10) / 795));
}

export interface LoadtestResult {
  runId: string;
  state: string;
  /** Peak concurrent client sessions, summed over the nodes. */
  connected: number;
  /** Rounds completed. */
  rounds: number;
  /** Seconds of each completed round (its completed attempt, start to finish). */
  roundSeconds: number[];
  /** Leader changes seen while it ran. */
  failovers: number;
  /** Each node's peak resident memory (MB), by URL. */
  rssMb: Record<string, number>;
  dim: number;
  clients: number;
  selected: number;
  seconds: number;
}

export async function runLoadtest(o: LoadtestOptions, log: (line: string) => void = () => {}): Promise<LoadtestResult> {
  const { urls, clients, selected, rounds } = o;
  const apis = urls.map((base) => new OperatorClient({ base, token: o.token, fetch }));
  const deadline = o.deadlineS;
  const config: RunConfigInput = {
    name: 'loadtest',
    rounds,
    minClients: selected,
    selection: { clientsPerRound: selected },
    task: { name: 'mnist', model: { kind: 'mlp', hidden: [hiddenWidth(o.dim)] } },
    // No data: the clients bring none and train on nothing (synthetic updates).
    data: 'local',
    evaluation: { fraction: 0 },
    deadlines: { training: deadline, shareKeys: deadline, maskedInput: deadline, consistencyCheck: deadline, unmasking: deadline },
    ddg: { bits: o.bits, gamma: 2e-4, localStddev: 0.004, delta: 1e-5 },
    ...(o.maxColluders !== undefined || selected < 30 ? { secagg: { maxColluders: o.maxColluders ?? 1 } } : {}),
  };
  const started = Date.now();
  const { runId } = await apis[0]!.createRun(config as never);
  // Paused until every client has joined (no client is connected yet, so no round can have started): the
  // rounds are measured with the whole population online, not with the first M to arrive.
  await apis[0]!.pause(runId);
  const detail = await apis[0]!.run(runId);
  log(`run ${runId}, ${rounds} round(s) of ${selected} from ${clients} clients over ${urls.length} node(s), d = ${detail.dim}`);
  const peakRss: Record<string, number> = {};
  const leaders: string[] = [];
  let connected = 0;
  const poll = async () => {
    let sessions = 0;
    for (let i = 0; i < urls.length; i++) {
      const node = await apis[i]!.node().catch(() => null);
      if (!node) continue;
      sessions += node.sessions;
      peakRss[urls[i]!] = Math.max(peakRss[urls[i]!] ?? 0, node.rssMb);
      const name = node.node ?? urls[i]!;
      if (node.leader && leaders.at(-1) !== name) leaders.push(name);
    }
    connected = Math.max(connected, sessions);
  };
  // Every node must know the run before its clients say hello: they join for its data (`data: local`).
  for (const a of apis) {
    for (let i = 0; ; i++) {
      const s = await a.status().catch(() => null);
      if (s?.runId === runId) break;
      if (i > 300) throw new Error(`a coordinator node did not learn of run ${runId} within 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const pools: ClientPool[] = [];
  const ticker = setInterval(() => void poll(), 1000);
  let state = 'running';
  try {
    for (let i = 0; i < urls.length; i++) {
      const share = Math.floor(((i + 1) * clients) / urls.length) - Math.floor((i * clients) / urls.length);
      if (share === 0) continue;
      pools.push(
        startClientPool({
          url: urls[i]!,
          clients: share,
          miniClients: 1,
          dropout: 0,
          synthetic: true,
          reportClipped: false,
          namePrefix: `load${i}`,
          // Many threads, few clients each: a thread's clients share its event loop, and one blocked for
          // longer than the coordinator's ping timeout (SecAgg's key agreements for hundreds of parties) would
          // have its sockets closed — a load generator's artefact, not the coordinator's limit.
          workers: o.workers ?? Math.min(32, Math.max(availableParallelism(), Math.ceil(share / CLIENTS_PER_THREAD))),
        }),
      );
    }
    await Promise.all(pools.map((p) => p.ready));
    await poll();
    log(`${connected} clients connected (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    await apis[0]!.resume(runId);
    const giveUp = started + o.timeoutS * 1000;
    for (;;) {
      const run = await firstAnswer(apis, (a) => a.run(runId));
      state = run?.state ?? state;
      if (state !== 'running' && state !== 'paused') break;
      if (Date.now() > giveUp) {
        await firstAnswer(apis, (a) => a.stop(runId));
        state = 'timed out';
        break;
      }
      if (o.onProgress) {
        const rows = (await firstAnswer(apis, (a) => a.rounds(runId))) ?? [];
        await o.onProgress({
          roundsCompleted: rows.filter((r) => r.state === 'completed').length,
          runningRound: rows.find((r) => r.state === 'running')?.round ?? null,
          connected,
        });
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    await poll();
  } finally {
    clearInterval(ticker);
    await Promise.all(pools.map((p) => p.stop()));
  }
  const rows = (await firstAnswer(apis, (a) => a.rounds(runId))) ?? [];
  const done = rows.filter((r) => r.state === 'completed' && r.finished_at !== null);
  return {
    runId,
    state,
    connected,
    rounds: done.length,
    roundSeconds: done.map((r) => (r.finished_at! - r.started_at) / 1000),
    failovers: Math.max(0, leaders.length - 1),
    rssMb: peakRss,
    dim: detail.dim,
    clients,
    selected,
    seconds: (Date.now() - started) / 1000,
  };
}

/** The first node that answers (a cluster's leader may be gone). */
async function firstAnswer<T>(apis: readonly OperatorClient[], call: (a: OperatorClient) => Promise<T>): Promise<T | null> {
  for (const a of apis) {
    try {
      return await call(a);
    } catch {
      // the next node
    }
  }
  return null;
}
