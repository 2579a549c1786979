/**
 * `pnpm bench`: runs every benchmark suite, writes bench/results/<suite>.json and prints the JSON.
 * `pnpm bench ddp` runs one suite; `--quick` shrinks the secagg grid (n = 100, d = 2^16). Ends by writing
 * bench/REPORT.md from every stored result (see report.ts).
 */
import { benchDdp } from '../packages/ddp/bench/ddp.bench.ts';
import { benchSecAgg } from '../packages/secagg/bench/secagg.bench.ts';
import { benchRounds } from '../apps/cli/bench/rounds.bench.ts';
import { benchDpsgd } from '../packages/client/bench/dpsgd.bench.ts';
import { writeResults, type Figure } from './lib.ts';
import { writeReport } from './report.ts';

const suites: Record<string, () => Promise<Figure[]>> = {
  ddp: benchDdp,
  secagg: () => benchSecAgg({ quick: process.argv.includes('--quick') }),
  dpsgd: benchDpsgd,
  rounds: () => benchRounds({ quick: process.argv.includes('--quick') }),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of wanted) if (!suites[name]) throw new Error(`unknown bench suite '${name}'; known: ${Object.keys(suites).join(', ')}`);
const docs = [];
const failed: string[] = [];
for (const [name, run] of Object.entries(suites)) {
  if (wanted.length && !wanted.includes(name)) continue;
  process.stderr.write(`bench ${name}…\n`);
  try {
    docs.push(writeResults(name, await run()));
  } catch (err) {
    // One broken suite must not cost the others' results: report it, keep its old JSON, fail at the end.
    failed.push(name);
    process.stderr.write(`bench ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
}
process.stdout.write(JSON.stringify(docs, null, 2) + '\n');
process.stderr.write(`wrote ${writeReport()}\n`);
if (failed.length) {
  process.stderr.write(`bench: ${failed.join(', ')} failed; their bench/results JSON is from an earlier run\n`);
  process.exitCode = 1;
}
