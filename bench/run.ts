/**
 * `npm run bench`: runs every benchmark suite, writes bench/results/<suite>.json and prints the JSON.
 * `npm run bench -- ddp` runs one suite; `--quick` shrinks the secagg grid (n = 100, d = 2^16). Ends by writing
 * bench/REPORT.md from every stored result (see report.ts).
 *
 * Each suite runs in a process of its own. The per-party suites (ddp, secagg, dpsgd, browser) are pinned to one core
 * with `taskset` where it exists, so "on one core" holds even for work Node hands to its threadpool
 * (WebCrypto); the round-latency suite measures the whole system and gets every core, as does the liveness
 * soak (issue 13: a whole run under attack, about a minute; `bench/soak.ts` runs it alone with its options).
 * A suite may return checks beside its figures: its JSON is written either way, and a failed check fails
 * the bench.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDdp } from '../packages/ddp/bench/ddp.bench.ts';
import { benchSecAgg } from '../packages/secagg/bench/secagg.bench.ts';
import { benchRounds } from '../apps/cli/bench/rounds.bench.ts';
import { benchDpsgd } from '../packages/client/bench/dpsgd.bench.ts';
import { benchSoak } from '../apps/coordinator/bench/soak.bench.ts';
import { benchScale } from '../apps/coordinator/bench/scale.bench.ts';
import { benchScaling } from '../apps/coordinator/bench/scaling.bench.ts';
import { benchCluster } from '../apps/cli/bench/cluster.bench.ts';
import { benchBrowser } from '../e2e/bench/browser.bench.ts';
import { resultsDir, writeResults, type Figure } from './lib.ts';
import { writeReport } from './report.ts';

const quick = process.argv.includes('--quick');
/** Figures, or figures with details for the JSON and the checks that failed. */
type SuiteOutput = Figure[] | { figures: Figure[]; details?: Record<string, unknown>; failures?: readonly string[] };
const suites: Record<string, () => Promise<SuiteOutput>> = {
  ddp: benchDdp,
  secagg: () => benchSecAgg({ quick }),
  dpsgd: benchDpsgd,
  rounds: () => benchRounds({ quick }),
  browser: () => benchBrowser({ quick }),
  soak: () => benchSoak({ quick }),
  // The unmasking half of `scale` alone (issue 18 §3's server targets), without the cluster runs.
  unmask: async () => benchScale({ quick }),
  scaling: () => benchScaling({ quick }),
  scale: async () => {
    const unmask = await benchScale({ quick });
    const cluster = await benchCluster({ quick });
    return { figures: [...unmask.figures, ...cluster.figures], details: { ...unmask.details, ...cluster.details } };
  },
};
/** A child's exit status when it wrote its results but a check failed. */
const CHECKS_FAILED = 3;
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(`Usage: npm run bench -- [suite...] [--quick]
Runs the benchmark suites (all, or the ones named: ${Object.keys(suites).join(', ')}), each in its own process,
writes bench/results/<suite>.json, prints the JSON and rewrites bench/REPORT.md.

  --quick    smaller grids (secagg: n = 100, d = 2^16; rounds: 20 clients; soak: 3 rounds, 6 Sybils)
  --help     print this help
`);
  process.exit(0);
}
const PINNED = new Set(['ddp', 'secagg', 'dpsgd', 'browser']);

const child = process.env.HUSHFL_BENCH_SUITE;
if (child) {
  const out = await suites[child]!();
  const { figures, details = {}, failures = [] } = Array.isArray(out) ? { figures: out } : out;
  writeResults(child, figures, { cpuAffinity: process.env.HUSHFL_BENCH_AFFINITY ?? 'all cores', ...details });
  process.exit(failures.length ? CHECKS_FAILED : 0);
}

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of wanted) if (!suites[name]) throw new Error(`unknown bench suite '${name}'; known: ${Object.keys(suites).join(', ')}`);
const canPin = process.platform === 'linux' && spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
const script = fileURLToPath(import.meta.url);
const docs = [];
const failed: string[] = [];
for (const name of Object.keys(suites)) {
  if (wanted.length && !wanted.includes(name)) continue;
  const pin = canPin && PINNED.has(name);
  process.stderr.write(`bench ${name}${pin ? ' (pinned to core 0)' : ''}…\n`);
  const node = [process.execPath, ...process.execArgv, script, ...process.argv.slice(2)];
  const [cmd, ...args] = pin ? ['taskset', '-c', '0', ...node] : node;
  const r = spawnSync(cmd!, args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, HUSHFL_BENCH_SUITE: name, HUSHFL_BENCH_AFFINITY: pin ? 'one core (taskset -c 0)' : 'all cores' },
  });
  if (r.status === 0 || r.status === CHECKS_FAILED) docs.push(JSON.parse(readFileSync(join(resultsDir, `${name}.json`), 'utf8')));
  if (r.status === CHECKS_FAILED) {
    failed.push(name);
    process.stderr.write(`bench ${name}: checks failed (see bench/results/${name}.json)\n`);
  } else if (r.status !== 0) {
    // One broken suite must not cost the others' results: report it, keep its old JSON, fail at the end.
    failed.push(name);
    process.stderr.write(`bench ${name} failed (exit ${r.status ?? r.signal})\n`);
  }
}
process.stdout.write(`${JSON.stringify(docs, null, 2)}\n`);
process.stderr.write(`wrote ${writeReport()}\n`);
if (failed.length) {
  process.stderr.write(`bench: ${failed.join(', ')} failed; see above whether their bench/results JSON is new or from an earlier run\n`);
  process.exitCode = 1;
}
