/**
 * `pnpm bench`: runs every benchmark suite, writes bench/results/<suite>.json and prints the JSON.
 * `pnpm bench ddp` runs one suite.
 */
import { benchDdp } from '../packages/ddp/bench/ddp.bench.ts';
import { writeResults, type Figure } from './lib.ts';

const suites: Record<string, () => Promise<Figure[]>> = {
  ddp: benchDdp,
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of wanted) if (!suites[name]) throw new Error(`unknown bench suite '${name}'; known: ${Object.keys(suites).join(', ')}`);
const docs = [];
for (const [name, run] of Object.entries(suites)) {
  if (wanted.length && !wanted.includes(name)) continue;
  process.stderr.write(`bench ${name}…\n`);
  docs.push(writeResults(name, await run()));
}
process.stdout.write(JSON.stringify(docs, null, 2) + '\n');
