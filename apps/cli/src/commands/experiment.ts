/** `hushfl experiment utility`: the utility experiment (see experiment/utility.ts), with JSON, Markdown and SVG output. */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelSpec } from '@hushfl/protocol';
import { TASKS } from '@hushfl/tasks';
import { UsageError, atLeastOne, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';
import { bitsChart, markdownTable, svgChart, wrapsTable } from '../experiment/report.ts';
import { MECHANISMS, type Mechanism, runUtilityExperiment } from '../experiment/utility.ts';
import { strategyFlags, strategyFromFlags } from '../strategyFlags.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

const flags = {
  task: { kind: 'string', help: `task: ${TASKS.map((t) => t.name).join(', ')} (default mnist; hushfl tasks)` },
  'clients-per-round': { kind: 'int', help: 'clients per round n (default 20)', range: 'in [2, 200]', ok: (v: number) => v >= 2 && v <= 200 },
  population: { kind: 'int', help: 'population N the n clients are drawn from (default 1000)', range: 'in [2, 9000]', ok: (v: number) => v >= 2 && v <= 9000 },
  rounds: { kind: 'int', help: 'rounds (default 30)', ...atLeastOne },
  epsilons: { kind: 'string', help: 'comma-separated target ε (default 2,4,8)' },
  bits: { kind: 'string', help: 'comma-separated DDG bit widths (default 12,14,16,18,20)' },
  seeds: { kind: 'int', help: 'seeds per setting (default 3)', range: 'in [1, 20]', ok: (v: number) => v >= 1 && v <= 20 },
  quick: { kind: 'bool', help: 'a CI-sized run (< 3 min): 10 of 200 clients, 5 rounds, ε=8, 16 bits, 1 seed' },
  'server-optimizer': strategyFlags['server-optimizer'],
  'server-lr': strategyFlags['server-lr'],
  'server-beta1': strategyFlags['server-beta1'],
  'server-beta2': strategyFlags['server-beta2'],
  'server-tau': strategyFlags['server-tau'],
  'proximal-mu': strategyFlags['proximal-mu'],
  'sample-rate': {
    kind: 'number',
    help: 'Poisson selection: each client joins a round with probability q (the same draws for every mechanism; replaces --clients-per-round)',
    range: 'in (0, 1)',
    ok: (v: number) => v > 0 && v < 1,
  },
  'min-clients': {
    kind: 'int',
    help: "n_min under Poisson selection, DDG's noise sized for it (default: the most the shortfall rule allows)",
    range: '>= 3',
    ok: (v: number) => v >= 3,
  },
  clip: { kind: 'number', help: "L2 clip of each client's update (default: the task's)", range: '> 0', ok: (v: number) => v > 0 },
  epochs: { kind: 'int', help: 'local epochs a round (default 5 on MNIST, else the task’s)', range: 'in [1, 100]', ok: (v: number) => v >= 1 && v <= 100 },
  'batch-size': { kind: 'int', help: 'local batch size', range: 'in [1, 4096]', ok: (v: number) => v >= 1 && v <= 4096 },
  'local-lr': { kind: 'number', help: 'local SGD learning rate', range: '> 0', ok: (v: number) => v > 0 },
  partition: { kind: 'string', help: 'iid (default) or dirichlet (label skew; --alpha)' },
  alpha: { kind: 'number', help: 'Dirichlet concentration α (default 0.5)', range: '> 0', ok: (v: number) => v > 0 },
  model: { kind: 'string', help: "the model: the task's grid model (default) or cnn (8 filters of 5×5, max pool, softmax: 11 738 weights)" },
  filters: { kind: 'int', help: 'the cnn model’s 5×5 filters (default 8)', range: 'in [1, 64]', ok: (v: number) => v >= 1 && v <= 64 },
  dense: {
    kind: 'int',
    help: 'the cnn model’s hidden dense units before the softmax (default 0: none)',
    range: 'in [0, 1024]',
    ok: (v: number) => v >= 0 && v <= 1024,
  },
  report: {
    kind: 'bool',
    help: 'run nothing: write the JSON, table and plots from the cells finished so far (a grid in progress; each row says how many seeds it holds)',
  },
  mechanisms: { kind: 'string', help: `comma-separated mechanisms to run: ${MECHANISMS.join(', ')} (default all; e.g. none,central to tune the baseline)` },
  'test-examples': {
    kind: 'int',
    help: "test examples the final model is scored on (default the task's whole test split)",
    range: '>= 100',
    ok: (v: number) => v >= 100,
  },
  worker: {
    kind: 'string',
    help: "K/N: one of N processes sharing --out's grid (one per core): this one runs every N-th missing cell from the K-th (1-based), then any the others have not started, claiming each while it runs",
  },
  restart: { kind: 'bool', help: 'discard the finished cells of an earlier run of the same grid (default: resume, skipping them)' },
  out: {
    kind: 'string',
    help: 'output directory (default docs/results/grid/<task>-<partition>; give each grid of other settings its own; `experiment summary` merges them)',
  },
  json: { kind: 'bool', help: 'print JSON' },
} as const satisfies FlagSpecs;

function list(flag: string, text: string | undefined, fallback: number[], ok: (v: number) => boolean, range: string): number[] {
  if (text === undefined) return fallback;
  const values = text.split(',').map((t) => Number(t.trim()));
  const bad = values.find((v) => !Number.isFinite(v) || !ok(v));
  if (bad !== undefined || !values.length) throw new UsageError(`--${flag} must be a comma-separated list of numbers ${range}, got '${text}'`);
  return values;
}

function partitionOf(kind: string | undefined, alpha: number | undefined) {
  if (kind === undefined || kind === 'iid') {
    if (alpha !== undefined) throw new UsageError('--alpha goes with --partition dirichlet');
    return {};
  }
  if (kind === 'dirichlet') return { partition: { kind: 'dirichlet' as const, alpha: alpha ?? 0.5 } };
  throw new UsageError(`--partition must be iid or dirichlet, got '${kind}'`);
}

/** The grid's CNN (issue 16 §1): small, so the DP noise stays small against the clip. */
const GRID_CNN = { kind: 'cnn', filters: 8, kernel: 5, dense: 0 } as const satisfies ModelSpec;

function modelOf(name: string, filters: number | undefined, dense: number | undefined): ModelSpec {
  if ((filters !== undefined || dense !== undefined) && name !== 'cnn') throw new UsageError('--filters and --dense go with --model cnn');
  if (name === 'cnn') return { ...GRID_CNN, filters: filters ?? GRID_CNN.filters, dense: dense ?? GRID_CNN.dense };
  throw new UsageError(`--model must be cnn (or omitted for the task's grid model), got '${name}'`);
}

function workerOf(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const k = m ? Number(m[1]) : Number.NaN;
  const n = m ? Number(m[2]) : Number.NaN;
  if (!(n >= 1 && n <= 64 && k >= 1 && k <= n)) throw new UsageError(`--worker must be K/N with 1 ≤ K ≤ N ≤ 64, got '${text}'`);
  return { index: k - 1, count: n };
}

function mechanismsOf(text: string): Mechanism[] {
  const names = text.split(',').map((t) => t.trim());
  if (names.some((n) => !(MECHANISMS as readonly string[]).includes(n)))
    throw new UsageError(`--mechanisms must be a comma-separated list of ${MECHANISMS.join(', ')}, got '${text}'`);
  return names as Mechanism[];
}

export const experimentUtilityCommand: Command<typeof flags> = {
  name: 'experiment utility',
  summary: 'accuracy of no DP vs central DP vs DDG at each bit width, to the same (ε, δ)',
  flags,
  async run(f, io) {
    const task = f.task ?? 'mnist';
    if (!TASKS.some((t) => t.name === task)) throw new UsageError(`--task must be one of ${TASKS.map((t) => t.name).join(', ')}, got '${task}'`);
    const quick = f.quick;
    const opts = {
      task,
      clientsPerRound: f['clients-per-round'] ?? (quick ? 10 : 20),
      population: f.population ?? (quick ? 200 : 1000),
      rounds: f.rounds ?? (quick ? 5 : 30),
      epsilons: list('epsilons', f.epsilons, quick ? [8] : [2, 4, 8], (v) => v > 0, '> 0'),
      bits: list('bits', f.bits, quick ? [16] : [12, 14, 16, 18, 20], (v) => Number.isInteger(v) && v >= 4 && v <= 32, 'in [4, 32]'),
      seeds: f.seeds ?? (quick ? 1 : 3),
      // One strategy for every mechanism (post-processing): reported in the JSON's config.
      ...strategyFromFlags(f),
      ...partitionOf(f.partition, f.alpha),
      ...(f['sample-rate'] !== undefined ? { sampleRate: f['sample-rate'] } : {}),
      ...(f['min-clients'] !== undefined ? { minClients: f['min-clients'] } : {}),
      ...(f.clip !== undefined ? { clip: f.clip } : {}),
      training: {
        ...(f.epochs !== undefined ? { epochs: f.epochs } : {}),
        ...(f['batch-size'] !== undefined ? { batchSize: f['batch-size'] } : {}),
        ...(f['local-lr'] !== undefined ? { learningRate: f['local-lr'] } : {}),
      },
      ...(f.model !== undefined ? { model: modelOf(f.model, f.filters, f.dense) } : {}),
      ...(f.mechanisms !== undefined ? { mechanisms: mechanismsOf(f.mechanisms) } : {}),
      ...(f['test-examples'] !== undefined ? { testExamples: f['test-examples'] } : {}),
      ...(f.worker !== undefined ? { worker: workerOf(f.worker) } : {}),
    };
    if ((f.filters !== undefined || f.dense !== undefined) && f.model === undefined) throw new UsageError('--filters and --dense go with --model cnn');
    if (f.worker !== undefined && f.report) throw new UsageError('--report runs nothing: it needs no --worker');
    if (f['min-clients'] !== undefined && f['sample-rate'] === undefined) throw new UsageError('--min-clients goes with --sample-rate (Poisson selection)');
    if (opts.clientsPerRound > opts.population)
      throw new UsageError(`--clients-per-round (${opts.clientsPerRound}) cannot exceed --population (${opts.population})`);
    const started = Date.now();
    const out = resolve(f.out ?? join(repoRoot, 'docs', 'results', 'grid', `${task}-${f.partition ?? 'iid'}`));
    mkdirSync(out, { recursive: true });
    // Finished cells are kept as they finish: an interrupted grid resumes where it stopped.
    const cellsFile = join(out, 'utility.cells.jsonl');
    if (f.restart && f.report) throw new UsageError('--report reads the finished cells: it cannot go with --restart');
    if (f.restart) rmSync(cellsFile, { force: true });
    const { results, config } = await runUtilityExperiment({ ...opts, cellsFile, reportOnly: f.report, onProgress: (line) => io.err(`${line}\n`) });
    const doc = {
      results,
      config: {
        ...config,
        seeds: opts.seeds,
        epsilons: opts.epsilons,
        bits: opts.bits,
        minutes: (Date.now() - started) / 60_000,
        date: new Date().toISOString(),
      },
    };
    writeFileSync(join(out, 'utility.json'), `${JSON.stringify(doc, null, 2)}\n`);
    const table = markdownTable(results, doc.config);
    writeFileSync(
      join(out, 'utility.md'),
      `# Utility experiment\n\nGenerated by \`hushfl experiment utility${f.report ? ' --report' : ''}\` on ${doc.config.date.slice(0, 10)} from ${config.cellMinutes.toFixed(0)} min of finished cells${f.report ? ' (a grid in progress: the seeds column says how many each row holds; missing rows are not run yet)' : ''}.\n\n${table}\n${wrapsTable(results)}\n![accuracy against ε](utility.svg)\n![accuracy against bits](utility-bits.svg)\n`,
    );
    writeFileSync(join(out, 'utility.svg'), svgChart(results));
    writeFileSync(join(out, 'utility-bits.svg'), bitsChart(results));
    return {
      json: {
        ...doc,
        files: {
          json: join(out, 'utility.json'),
          markdown: join(out, 'utility.md'),
          svg: join(out, 'utility.svg'),
          bitsSvg: join(out, 'utility-bits.svg'),
          cells: cellsFile,
        },
      },
      text: `${table}\nwritten to ${out}`,
    };
  },
};
