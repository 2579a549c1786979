/**
 * The utility grids' summary (issue 16 §1): docs/results/utility.json holds every grid's rows (each with its task
 * and partition), utility.md each grid's table, wraps and plots with a verdict computed from the rows, and the
 * README's table and verdict between its `<!-- utility:begin -->` and `<!-- utility:end -->` markers come from it.
 * Each grid is a directory `hushfl experiment utility --out DIR` (or its `--report`) wrote.
 */
import { ddgNoiseGap, type NoiseGap } from './noiseGap.ts';
import { markdownTable, wrapsTable } from './report.ts';
import type { UtilityResult } from './utility.ts';

export interface GridDoc {
  /** The grid's directory, relative to the summary's (for links). */
  readonly dir: string;
  readonly results: readonly UtilityResult[];
  readonly config: Record<string, unknown>;
}

export const README_BEGIN = '<!-- utility:begin -->';
export const README_END = '<!-- utility:end -->';

/** DDG's target (issue 16 §1): at ≥ 12 bits within 1 accuracy point of central DP at every ε. */
const TARGET_BITS = 12;
const TARGET_POINTS = 1;

const pct = (a: number) => (a * 100).toFixed(1);
const range = (xs: readonly number[], f: (x: number) => string) => {
  const lo = f(Math.min(...xs));
  const hi = f(Math.max(...xs));
  return lo === hi ? lo : `${lo}–${hi}`;
};
/** Issue 16 §1: the non-private CNN reaches at least this on MNIST. */
const NO_DP_TARGET: Record<string, number> = { mnist: 0.98 };

/** The grid settings the noise comparison needs (a grid's `config`). */
export interface NoiseSettings {
  readonly sampleRate: number;
  readonly population: number;
  readonly minClients: number;
  readonly rounds: number;
  readonly clip: number;
  readonly delta: number;
}

function noiseSettingsOf(config: Record<string, unknown> | undefined): NoiseSettings | null {
  if (!config) return null;
  const keys = ['sampleRate', 'population', 'minClients', 'rounds', 'clip', 'delta'] as const;
  return keys.every((k) => typeof config[k] === 'number') ? (config as unknown as NoiseSettings) : null;
}

/** Why the DDG rows are noisier than central DP at one ε, from their calibrated noise; null when a row lacks it. */
function noiseLine(central: UtilityResult, ddg: readonly UtilityResult[], settings: NoiseSettings): string | null {
  const z = central.noise?.noiseMultiplier;
  if (z === undefined || ddg.some((r) => r.noise?.localStddev === undefined)) return null;
  const gaps: NoiseGap[] = ddg.map((r) =>
    ddgNoiseGap({ ...settings, epsilon: central.epsilon!, centralNoiseMultiplier: z, localStddev: r.noise!.localStddev! }),
  );
  const x = (v: number) => v.toFixed(2);
  const g = gaps[0]!;
  return `Noise of the released sum against central DP's: ×${range(
    gaps.map((v) => v.total),
    x,
  )} in standard deviation (n_min = ${settings.minClients} of about ${Math.round(settings.sampleRate * settings.population)}: ×${x(g.minClients)}; the DDG accountant's sampling bound: ×${x(g.samplingBound)}; rounding's larger Δ₂ and τ: ×${range(
    gaps.map((v) => v.rounding),
    x,
  )}).`;
}

/**
 * Per ε: central DP, the DDG rows at ≥ 12 bits, their gaps and whether every one is within a point; with the
 * grid's settings, also how much noisier DDG's release is and why.
 */
export function verdict(results: readonly UtilityResult[], isCnn = true, config?: Record<string, unknown>): string[] {
  const settings = noiseSettingsOf(config);
  const lines: string[] = [];
  const none = results.find((r) => r.mechanism === 'none');
  // Issue 16's 98 % is the CNN's.
  const noDpTarget = none && isCnn ? NO_DP_TARGET[none.task] : undefined;
  if (none && noDpTarget !== undefined)
    lines.push(
      `No DP: ${pct(none.accuracy)} % (target ≥ ${pct(noDpTarget)} % on ${none.task}: ${none.accuracy >= noDpTarget ? 'met' : `missed by ${((noDpTarget - none.accuracy) * 100).toFixed(1)} points`} at these settings).`,
    );
  const epsilons = [...new Set(results.filter((r) => r.mechanism === 'central').map((r) => r.epsilon!))].sort((a, b) => b - a);
  for (const e of epsilons) {
    const central = results.find((r) => r.mechanism === 'central' && r.epsilon === e)!;
    const ddg = results.filter((r) => r.mechanism === 'ddg' && r.epsilon === e && r.bits! >= TARGET_BITS).sort((a, b) => a.bits! - b.bits!);
    if (!ddg.length) {
      lines.push(`ε = ${e}: central DP ${pct(central.accuracy)} %; no DDG row at ≥ ${TARGET_BITS} bits yet.`);
      continue;
    }
    // Gap in accuracy points, DDG − central (negative: DDG below), to the table's 0.1 point: the verdict is the
    // table's own reading.
    const gaps = ddg.map((r) => Math.round((r.accuracy - central.accuracy) * 1000) / 10);
    const short = ddg.filter((_, i) => gaps[i]! < -TARGET_POINTS);
    const stds = [central, ...ddg].map((r) => r.std * 100);
    const wraps = ddg.map((r) => r.wrapsPerRound ?? 0);
    const vsC = ddg.map((r) => r.epsilonVsCoordinator ?? Number.NaN).filter(Number.isFinite);
    const seedCounts = [central, ...ddg].map((r) => r.seeds);
    const seeds = `${range(seedCounts, String)} seed${Math.max(...seedCounts) === 1 ? '' : 's'}`;
    const signed = (g: number) => `${g >= 0 ? '+' : '−'}${Math.abs(g).toFixed(1)}`;
    lines.push(
      `ε = ${e}: DDG at ${ddg.map((r) => r.bits).join(', ')} bits ${range(
        ddg.map((r) => r.accuracy),
        pct,
      )} % against central DP ${pct(central.accuracy)} % (gap ${range(gaps, signed)} points; ${seeds}, std over seeds ${range(stds, (v) => v.toFixed(1))}): ${
        short.length === 0
          ? `within ${TARGET_POINTS} point — target met`
          : `${short.map((r) => `${r.bits} bits ${Math.abs(gaps[ddg.indexOf(r)]!).toFixed(1)}`).join(', ')} points below — target missed`
      }. Wrapped coordinates ${range(wraps, (w) => w.toFixed(1))} a round; ε against the coordinator ${vsC.length ? range(vsC, (v) => v.toFixed(1)) : '—'} (DDG) vs ${central.epsilonVsCoordinator?.toFixed(1) ?? '—'} (central).${
        settings ? ` ${noiseLine(central, ddg, settings) ?? ''}`.trimEnd() : ''
      }`,
    );
  }
  return lines;
}

const isCnnGrid = (g: GridDoc) => (g.config.model as { kind?: string } | undefined)?.kind === 'cnn';

/** A grid's settings without a partition ran IID (older grids). */
export const isIid = (g: Pick<GridDoc, 'config'>) => g.config.partition === undefined || g.config.partition === 'iid';

function heading(g: GridDoc): string {
  const c = g.config;
  const partition = isIid(g) ? 'IID' : String(c.partition);
  return `${String(c.task ?? 'mnist')}, ${partition}`;
}

/** The merged JSON: every grid's rows, each grid's settings. */
export function summaryJson(grids: readonly GridDoc[], date: Date): Record<string, unknown> {
  return {
    results: grids.flatMap((g) => g.results),
    grids: grids.map((g) => ({ dir: g.dir, config: g.config })),
    date: date.toISOString(),
  };
}

export function summaryMarkdown(grids: readonly GridDoc[], date: Date): string {
  const out = [
    '# Utility experiment: no DP vs central DP vs DDG (issue 16)',
    '',
    `Generated by \`hushfl experiment summary\` on ${date.toISOString().slice(0, 10)} from ${grids.length} grid${grids.length === 1 ? '' : 's'} (each one's cells, settings and resume command in its directory). Target: DDG at ≥ ${TARGET_BITS} bits within ${TARGET_POINTS} accuracy point of central DP at every ε.`,
    '',
  ];
  for (const g of grids) {
    out.push(`## ${heading(g)} ([grid](${g.dir}/utility.md))`, '', markdownTable(g.results, g.config), wrapsTable(g.results));
    out.push(...verdict(g.results, isCnnGrid(g), g.config).map((l) => `- ${l}`), '');
    out.push(`![accuracy against ε](${g.dir}/utility.svg)`, `![accuracy against bits](${g.dir}/utility-bits.svg)`, '');
  }
  return `${out.join('\n')}\n`;
}

/**
 * Markdown tables padded to their columns' widths, separators as dashes, the way the repository's formatter (Biome)
 * writes them: the README block stays as it is when the formatter runs over it. For the tables this module writes:
 * plain `---` rules, no escaped `|` in a cell, widths counted in code points (no wide characters).
 */
export function alignTables(text: string): string {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; ) {
    if (!lines[i]!.startsWith('|')) {
      i++;
      continue;
    }
    let end = i;
    while (end < lines.length && lines[end]!.startsWith('|')) end++;
    const rows = lines.slice(i, end).map((l) =>
      l
        .slice(1, l.endsWith('|') ? -1 : undefined)
        .split('|')
        .map((c) => c.trim()),
    );
    const isRule = (r: string[]) => r.every((c) => /^:?-+:?$/.test(c));
    const widths = rows[0]!.map((_, j) => Math.max(3, ...rows.filter((r) => !isRule(r)).map((r) => [...(r[j] ?? '')].length)));
    const pad = (c: string, w: number) => c + ' '.repeat(w - [...c].length);
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      lines[i + k] = `| ${widths.map((w, j) => (isRule(r) ? '-'.repeat(w) : pad(r[j] ?? '', w))).join(' | ')} |`;
    }
    i = end;
  }
  return lines.join('\n');
}

/** The README block: the first grid's table and every grid's verdict. */
export function readmeBlock(grids: readonly GridDoc[], summaryLink: string): string {
  const [main, ...rest] = grids;
  if (!main) return '';
  const out = [markdownTable(main.results, main.config), ...verdict(main.results, isCnnGrid(main), main.config).map((l) => `- ${l}`), ''];
  for (const g of rest) out.push(`${heading(g)}:`, '', ...verdict(g.results, isCnnGrid(g), g.config).map((l) => `- ${l}`), '');
  out.push(`Every grid's table, wraps and plots: [${summaryLink}](${summaryLink}).`);
  return alignTables(out.join('\n'));
}

/** `readme` with the text between the markers replaced by `block`; throws if the markers are missing. */
export function replaceReadmeBlock(readme: string, block: string): string {
  const a = readme.indexOf(README_BEGIN);
  const b = readme.indexOf(README_END);
  if (a < 0 || b < a) throw new Error(`the README has no ${README_BEGIN} … ${README_END} block to write the utility table into`);
  return `${readme.slice(0, a + README_BEGIN.length)}\n${block}\n${readme.slice(b)}`;
}
