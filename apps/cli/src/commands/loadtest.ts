/**
 * `hushfl loadtest --url URL[,URL…] --token T --clients N --selected M --dim D --rounds R [--json]` (issue 17
 * §3): starts a run of R rounds with M parties a round and a model of about D weights on the coordinator
 * (through the operator API), then connects N protocol clients spread over the URLs (a cluster's nodes) —
 * real keys, DDG encoding, masks and SecAgg messages over Socket.IO, synthetic updates, no training — and
 * reports what it saw: the peak of connected sessions over all nodes, the rounds completed and their
 * seconds, the failovers (leader changes seen), each node's peak resident memory.
 */
import { UsageError, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';
import { runLoadtest } from '../loadtest/runLoadtest.ts';

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
  workers: {
    kind: 'int',
    help: 'worker threads per URL running the clients (default: one per 40 clients, at least the available parallelism, at most 32)',
    range: '>= 1',
    ok: (v: number) => v >= 1,
  },
  'deadline-s': { kind: 'int', help: 'each SecAgg stage deadline in seconds (default 300)', range: 'in [10, 3600]', ok: (v: number) => v >= 10 && v <= 3600 },
  'timeout-s': { kind: 'int', help: 'give up (and stop the run) after this long (default 3600)', range: '>= 10', ok: (v: number) => v >= 10 },
  json: { kind: 'bool', help: 'print the result as JSON' },
} as const satisfies FlagSpecs;

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
    if (f.selected! > f.clients!) throw new UsageError(`--selected (${f.selected}) cannot exceed --clients (${f.clients})`);
    const rounds = f.rounds ?? 3;
    const result = await runLoadtest(
      {
        urls,
        token,
        clients: f.clients!,
        selected: f.selected!,
        rounds,
        dim: f.dim ?? 2 ** 16,
        bits: f.bits ?? 16,
        deadlineS: f['deadline-s'] ?? 300,
        timeoutS: f['timeout-s'] ?? 3600,
        ...(f['max-colluders'] !== undefined ? { maxColluders: f['max-colluders'] } : {}),
        ...(f.workers !== undefined ? { workers: f.workers } : {}),
      },
      (line) => io.err(`loadtest: ${line}\n`),
    );
    const text = [
      `run ${result.runId}: ${result.state}, ${result.rounds} of ${rounds} round(s) completed`,
      `  peak connected  ${result.connected}`,
      `  round seconds   ${result.roundSeconds.map((s) => s.toFixed(1)).join(', ') || '—'}`,
      `  failovers       ${result.failovers}`,
      ...Object.entries(result.rssMb).map(([u, mb]) => `  rss ${u}  ${mb.toFixed(0)} MB`),
    ].join('\n');
    return { json: result, text, code: result.state === 'completed' ? 0 : 1 };
  },
};
