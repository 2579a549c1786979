/** `hushfl experiment summary`: the utility grids merged into docs/results/utility.{json,md} and the README's table (experiment/summary.ts). */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';
import { type GridDoc, isIid, readmeBlock, replaceReadmeBlock, summaryJson, summaryMarkdown } from '../experiment/summary.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

const flags = {
  grids: {
    kind: 'string',
    help: 'comma-separated grid directories (each written by `experiment utility --out`); default every one under docs/results/grid, IID first',
  },
  out: { kind: 'string', help: 'where utility.json and utility.md go (default docs/results)' },
  readme: {
    kind: 'string',
    help: "also write the first grid's table and every verdict into this README, between <!-- utility:begin --> and <!-- utility:end -->",
  },
  json: { kind: 'bool', help: 'print JSON' },
} as const satisfies FlagSpecs;

function readGrid(dir: string, out: string): GridDoc {
  const file = join(dir, 'utility.json');
  if (!existsSync(file)) throw new UsageError(`${dir} has no utility.json: run \`hushfl experiment utility --out ${dir} --report\` first`);
  let doc: Pick<GridDoc, 'results' | 'config'>;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file} is not JSON: ${(e as Error).message}`);
  }
  if (!doc || !Array.isArray(doc.results) || typeof doc.config !== 'object' || doc.config === null)
    throw new UsageError(`${file} is not a utility experiment's JSON (results and config)`);
  return { dir: relative(out, dir) || '.', results: doc.results, config: doc.config };
}

export const experimentSummaryCommand: Command<typeof flags> = {
  name: 'experiment summary',
  summary: "merge the utility grids into docs/results/utility.{json,md} (and the README's table, --readme)",
  flags,
  async run(f) {
    const out = resolve(f.out ?? join(repoRoot, 'docs', 'results'));
    let dirs: string[];
    if (f.grids !== undefined) dirs = f.grids.split(',').map((d) => resolve(d.trim()));
    else {
      const root = join(out, 'grid');
      dirs = existsSync(root)
        ? readdirSync(root)
            .map((d) => join(root, d))
            .filter((d) => existsSync(join(d, 'utility.json')))
        : [];
    }
    const grids = dirs.map((d) => readGrid(d, out));
    if (!grids.length) throw new UsageError('no grids: pass --grids, or run `hushfl experiment utility --out docs/results/grid/<name>` first');
    // MNIST IID first (the README's table: issue 16's main grid), then MNIST's other splits, then by directory.
    const isMnist = (g: GridDoc) => (g.config.task ?? 'mnist') === 'mnist';
    if (f.grids === undefined)
      grids.sort((a, b) => Number(!isMnist(a)) - Number(!isMnist(b)) || Number(!isIid(a)) - Number(!isIid(b)) || a.dir.localeCompare(b.dir));
    const date = new Date();
    const json = summaryJson(grids, date);
    writeFileSync(join(out, 'utility.json'), `${JSON.stringify(json, null, 2)}\n`);
    const markdown = summaryMarkdown(grids, date);
    writeFileSync(join(out, 'utility.md'), markdown);
    if (f.readme !== undefined) {
      const readme = resolve(f.readme);
      const link = relative(dirname(readme), join(out, 'utility.md'));
      writeFileSync(readme, replaceReadmeBlock(readFileSync(readme, 'utf8'), readmeBlock(grids, link)));
    }
    return { json: { ...json, files: { json: join(out, 'utility.json'), markdown: join(out, 'utility.md') } }, text: `${markdown}\nwritten to ${out}` };
  },
};
