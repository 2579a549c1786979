/** `hushfl simulate`: real rounds with N Node clients in worker threads over Socket.IO (see runSimulation). */
import { SecAggError, chooseSecAggParams } from '@hushfl/secagg';
import { MODEL_ENCODINGS, type ModelEncoding } from '@hushfl/protocol';
import { TASKS } from '@hushfl/tasks';
import { UsageError, atLeastOne, positive, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';
import { runSimulation } from '../simulate/runSimulation.ts';
import { strategyFlags, strategyFromFlags } from '../strategyFlags.ts';

const flags = {
  task: { kind: 'string', help: `task: ${TASKS.map((t) => t.name).join(', ')} (default mnist; hushfl tasks)` },
  clients: {
    kind: 'int',
    required: true,
    help: 'simulated clients (parties; SecAgg needs three)',
    range: 'in [3, 1000]',
    ok: (v: number) => v >= 3 && v <= 1000,
  },
  rounds: { kind: 'int', required: true, help: 'rounds', range: 'in [1, 10000]', ok: (v: number) => v >= 1 && v <= 10_000 },
  dropout: {
    kind: 'number',
    help: 'probability that a selected client vanishes in a round (default 0)',
    range: 'in [0, 0.9]',
    ok: (v: number) => v >= 0 && v <= 0.9,
  },
  bits: { kind: 'int', help: 'bits of the SecAgg ring (default 16)', range: 'in [1, 32]', ok: (v: number) => v >= 1 && v <= 32 },
  epsilon: { kind: 'number', help: 'target ε (DDG noise); omit for no DP noise (still SecAgg)', ...positive },
  'max-colluders': {
    kind: 'int',
    help: 'an absolute bound C on colluding clients (default: γ = 0.1 at 2^-40, which needs at least 15 clients)',
    range: '>= 0',
    ok: (v: number) => v >= 0,
  },
  'mini-clients': { kind: 'int', help: 'mini-clients per simulated client (default 1)', range: 'in [1, 16]', ok: (v: number) => v >= 1 && v <= 16 },
  'model-encoding': { kind: 'string', help: `how the model travels to the clients: ${MODEL_ENCODINGS.join(' or ')} (default float32; task.modelEncoding)` },
  workers: { kind: 'int', help: 'worker threads (default: cores, at most clients)', ...atLeastOne },
  url: { kind: 'string', help: 'use this coordinator instead of starting one' },
  token: { kind: 'string', help: 'operator token of --url (to start and watch the run)' },
  data: { kind: 'string', help: 'data directory of the in-process coordinator (default: a temporary one)' },
  ...strategyFlags,
  json: { kind: 'bool', help: 'print JSON' },
} as const satisfies FlagSpecs;

export const simulateCommand: Command<typeof flags> = {
  name: 'simulate',
  summary: 'run real rounds with N Node clients (worker threads) over Socket.IO',
  flags,
  async run(f, io) {
    const task = f.task ?? 'mnist';
    if (!TASKS.some((t) => t.name === task)) throw new UsageError(`--task must be one of ${TASKS.map((t) => t.name).join(', ')}, got '${task}'`);
    const encoding = f['model-encoding'];
    if (encoding !== undefined && !(MODEL_ENCODINGS as readonly string[]).includes(encoding)) {
      throw new UsageError(`--model-encoding must be one of ${MODEL_ENCODINGS.join(', ')}, got '${encoding}'`);
    }
    if (f.url && !f.token) throw new UsageError('--url needs --token: the operator token that lets the simulator start and watch the run');
    // Refuse up front what every round would fail on: no SecAgg+ parameters for this many parties.
    try {
      chooseSecAggParams(f.clients!, { dropoutRate: Math.max(0.1, f.dropout ?? 0), maxColluders: f['max-colluders'] });
    } catch (e) {
      if (e instanceof SecAggError) throw new UsageError(`--clients/--max-colluders: ${e.message}`);
      throw e;
    }
    const r = await runSimulation({
      task,
      clients: f.clients!,
      rounds: f.rounds!,
      dropout: f.dropout ?? 0,
      ...(f.bits !== undefined ? { bits: f.bits } : {}),
      ...(f.epsilon !== undefined ? { epsilon: f.epsilon } : {}),
      ...(f['max-colluders'] !== undefined ? { maxColluders: f['max-colluders'] } : {}),
      miniClients: f['mini-clients'] ?? 1,
      strategy: strategyFromFlags(f),
      ...(encoding !== undefined ? { modelEncoding: encoding as ModelEncoding } : {}),
      ...(f.workers !== undefined ? { workers: f.workers } : {}),
      ...(f.url ? { url: f.url, token: f.token! } : {}),
      ...(f.data ? { dataDir: f.data } : {}),
      onProgress: (line, final) => {
        if (io.isTTY) io.err(`\r\x1b[2K${line}${final ? '\n' : ''}`);
      },
    });
    const json = { rounds: r.rounds, aborted: r.aborted, outcome: r.outcome, metricsFile: r.metricsFile };
    const text = [
      `${f.clients} clients × ${f['mini-clients'] ?? 1} mini-client(s), ${r.rounds.length}/${f.rounds} rounds (${r.aborted} aborted attempts), ${r.outcome}`,
      ...r.rounds.map(
        (x) =>
          `round ${x.round + 1}: accuracy ${x.accuracy === null ? '–' : `${(x.accuracy * 100).toFixed(1)} %`}, ε ${x.epsilon === null ? '∞ (no noise)' : x.epsilon.toFixed(3)}, ` +
          `${x.contributors} contributors${Object.keys(x.dropped).length ? `, dropped ${JSON.stringify(x.dropped)}` : ''}${x.error ? `, ‖error‖₂ ${x.error.l2.toExponential(2)}` : ''}`,
      ),
      r.metricsFile ? `metrics: ${r.metricsFile}` : '',
    ].join('\n');
    return { json, text, code: r.rounds.length === f.rounds ? 0 : 1 };
  },
};
