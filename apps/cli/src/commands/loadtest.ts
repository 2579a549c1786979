/**
 * `hushfl loadtest --url URL[,URL…] --token T --clients N --selected M --dim D --rounds R [--json]` (issue 17
 * §3): starts a run of R rounds with M parties a round and a model of about D weights on the coordinator
 * (through the operator API), then connects N protocol clients spread over the URLs (a cluster's nodes) —
 * real keys, DDG encoding, masks and SecAgg messages over Socket.IO, synthetic updates, no training — and
 * reports what it saw: the peak of connected sessions over all nodes, the rounds completed and their
 * seconds, the failovers (leader changes seen), each node's peak resident memory.
 */
import { OperatorClient } from '@hushfl/operator-client';
import { startClientPool, type ClientPool } from '@hushfl/node-client';
import type { RunConfigInput } from '@hushfl/protocol';
import { UsageError, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';

const flags = {
  url: { kind: 'string', required: true, help: "the coordinator, or a cluster's nodes comma-separated (clients are spread over them)" },
  token: { kind: 'string', help: 'the operator token (default $HUSHFL_OPERATOR_TOKEN)' },
  clients: { kind: 'int', required: true, help: 'protocol clients to connect (N)', range: 'in [3, 20000]', ok: (v: number) => v >= 3 && v <= 20_000 },
  selected: { kind: 'int', required: true, help: 'parties per round (M ≤ N)', range: 'in [3, 10000]', ok: (v: number) => v >= 3 && v <= 10_000 },
  dim: {
    kind: 'int',
    help: 'model dimension D (default 2^16): the widest one-hidden-layer MLP on MNIST with at most D weights (2^16 → 65 200)',
    range: 'in [7850, 16777216]',
    ok: (v: number) => v >= 7850 && v <= 2 ** 24,
  },
  rounds: { kind: 'int', help: 'rounds R (default 3)', range: 'in [1, 1000]', ok: (v: number) => v >= 1 && v <= 1000 },
  bits: { kind: 'int', help: 'DDG bit width (default 16)', range: 'in [8, 32]', ok: (v: number) => v >= 8 && v <= 32 },
  'max-colluders': {
    kind: 'int',
    help: 'SecAgg+ against at most C colluders (default: the default corrupt share of 0.1 from 30 parties a round, C = 1 below)',
    range: '>= 0',
    ok: (v: number) => v >= 0,
  },
  workers: { kind: 'int', help: 'worker threads per URL running the clients (default: the available parallelism)', range: '>= 1', ok: (v: number) => v >= 1 },
  'deadline-s': { kind: 'int', help: 'each SecAgg stage deadline in seconds (default 300)', range: 'in [10, 3600]', ok: (v: number) => v >= 10 && v <= 3600 },
  'timeout-s': { kind: 'int', help: 'give up (and stop the run) after this long (default 3600)', range: '>= 10', ok: (v: number) => v >= 10 },
  json: { kind: 'bool', help: 'print the result as JSON' },
} as const satisfies FlagSpecs;

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

export const loadtestCommand: Command<typeof flags> = {
  name: 'loadtest',
  summary: 'a run with N protocol clients (synthetic updates, real SecAgg) over one coordinator or a cluster',
  flags,
  async run(f, io) {
    const token = f.token ?? process.env.HUSHFL_OPERATOR_TOKEN;
    if (!token) throw new UsageError('--token is required (or set $HUSHFL_OPERATOR_TOKEN)');
    const urls = f.url!.split(',').map((u) => u.trim());
    for (const u of urls) {
      try {
        new URL(u);
      } catch {
        throw new UsageError(`--url must be coordinator URLs, comma-separated, got '${u}'`);
      }
    }
    const clients = f.clients!;
    const selected = f.selected!;
    if (selected > clients) throw new UsageError(`--selected (${selected}) cannot exceed --clients (${clients})`);
    const rounds = f.rounds ?? 3;
    const wantDim = f.dim ?? 2 ** 16;
    const hidden = hiddenWidth(wantDim);
    const deadline = f['deadline-s'] ?? 300;
    const apis = urls.map((base) => new OperatorClient({ base, token, fetch }));
    const config: RunConfigInput = {
      name: 'loadtest',
      rounds,
      minClients: selected,
      selection: { clientsPerRound: selected },
      task: { name: 'mnist', model: { kind: 'mlp', hidden: [hidden] } },
      // No data: the clients bring none and train on nothing (synthetic updates).
      data: 'local',
      evaluation: { fraction: 0 },
      deadlines: { training: deadline, shareKeys: deadline, maskedInput: deadline, consistencyCheck: deadline, unmasking: deadline },
      ddg: { bits: f.bits ?? 16, gamma: 2e-4, localStddev: 0.004, delta: 1e-5 },
      ...(f['max-colluders'] !== undefined || selected < 30 ? { secagg: { maxColluders: f['max-colluders'] ?? 1 } } : {}),
    };
    const started = Date.now();
    const { runId } = await apis[0]!.createRun(config as never);
    const detail = await apis[0]!.run(runId);
    io.err(`loadtest: run ${runId}, ${rounds} round(s) of ${selected} from ${clients} clients over ${urls.length} node(s), d = ${detail.dim}\n`);
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
    const pools: ClientPool[] = [];
    const ticker = setInterval(() => void poll(), 1000);
    let state = 'running';
    try {
      for (let i = 0; i < urls.length; i++) {
        const share = Math.floor(((i + 1) * clients) / urls.length) - Math.floor((i * clients) / urls.length);
        if (share === 0) continue;
        const pool = startClientPool({
          url: urls[i]!,
          clients: share,
          miniClients: 1,
          dropout: 0,
          synthetic: true,
          reportClipped: false,
          namePrefix: `load${i}`,
          ...(f.workers !== undefined ? { workers: f.workers } : {}),
        });
        pools.push(pool);
      }
      await Promise.all(pools.map((p) => p.ready));
      await poll();
      io.err(`loadtest: ${connected} clients connected (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
      const giveUp = started + (f['timeout-s'] ?? 3600) * 1000;
      for (;;) {
        const run = await firstAnswer(apis, (a) => a.run(runId));
        state = run?.state ?? state;
        if (state !== 'running' && state !== 'paused') break;
        if (Date.now() > giveUp) {
          await firstAnswer(apis, (a) => a.stop(runId));
          state = 'timed out';
          break;
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
    const result: LoadtestResult = {
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
    const text = [
      `run ${runId}: ${state}, ${result.rounds} of ${rounds} round(s) completed`,
      `  peak connected  ${connected}`,
      `  round seconds   ${result.roundSeconds.map((s) => s.toFixed(1)).join(', ') || '—'}`,
      `  failovers       ${result.failovers}`,
      ...Object.entries(peakRss).map(([u, mb]) => `  rss ${u}  ${mb.toFixed(0)} MB`),
    ].join('\n');
    return { json: result, text, code: state === 'completed' ? 0 : 1 };
  },
};

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
