import { describe, expect, it } from 'vitest';
import { README_BEGIN, README_END, alignTables, readmeBlock, replaceReadmeBlock, summaryJson, summaryMarkdown, verdict, type GridDoc } from './summary.ts';
import type { UtilityResult } from './utility.ts';
import { utilityRow } from './utilityRow.testing.ts';
import { centralNoiseMultiplier, zhuWangNoiseMultiplier } from './noiseGap.ts';

const row = utilityRow;

const config = {
  task: 'mnist',
  partition: 'iid',
  clientsPerRound: 100,
  population: 1000,
  sampleRate: 0.1,
  rounds: 30,
  clip: 0.25,
  delta: 1e-5,
  model: {},
  dim: 10,
};
const results = [
  row('none', null, null, 0.96),
  row('central', null, 8, 0.948),
  row('ddg', 10, 8, 0.9),
  row('ddg', 12, 8, 0.941),
  row('ddg', 16, 8, 0.95),
  row('central', null, 2, 0.927),
  row('ddg', 12, 2, 0.773, { wrapsPerRound: 1.2, epsilonVsCoordinator: 12.7 }),
  row('ddg', 16, 2, 0.826, { seeds: 2, epsilonVsCoordinator: 13.1 }),
];

describe('utility summary', () => {
  it('says per ε whether DDG at ≥ 12 bits is within a point of central DP, and by how much it is not', () => {
    const [noDp, e8, e2] = verdict(results);
    expect(noDp).toBe('No DP: 96.0 % (target ≥ 98.0 % on mnist: missed by 2.0 points at these settings).');
    // 10 bits is below the target's width: not counted.
    expect(e8).toContain('ε = 8: DDG at 12, 16 bits 94.1–95.0 % against central DP 94.8 % (gap −0.7–+0.2 points; 3 seeds, std over seeds 1.0)');
    expect(e8).toContain('within 1 point — target met');
    expect(e2).toContain('12 bits 15.4, 16 bits 10.1 points below — target missed');
    expect(e2).toContain('2–3 seeds');
    expect(e2).toContain('Wrapped coordinates 0.5–1.2 a round; ε against the coordinator 12.7–13.1 (DDG) vs 10.0 (central)');
  });

  it('reads gaps as the table shows them (to 0.1 point), gives the spread over seeds, and holds the 98 % to the CNN', () => {
    const [line] = verdict([row('central', null, 4, 0.9), row('ddg', 12, 4, 0.8896)], false);
    expect(line).toContain('gap −1.0 points; 3 seeds, std over seeds 1.0): within 1 point — target met');
    expect(verdict([row('none', null, null, 0.96)], false)).toEqual([]);
  });

  it('with the grid’s settings, says how much noisier DDG’s release is and splits it into n_min, the sampling bound and rounding', () => {
    const settings = { sampleRate: 0.1, population: 1000, minClients: 56, rounds: 30, clip: 0.25, delta: 1e-5 };
    const z = centralNoiseMultiplier(2, 1e-5, 0.1, 30);
    const sampling = zhuWangNoiseMultiplier(2, 1e-5, 0.1, 30) / z;
    // DDG rows whose sum (about 100 parties) has 1.95 and 2.10 times central DP's noise.
    const local = (ratio: number) => ({ localStddev: (ratio * z * 0.25) / Math.sqrt(100), gamma: 1e-4, gridStddev: 1 });
    const rows = [
      row('central', null, 2, 0.927, { noise: { noiseMultiplier: z } }),
      row('ddg', 12, 2, 0.77, { noise: local(2.1) }),
      row('ddg', 16, 2, 0.8, { noise: local(1.95) }),
    ];
    const [line] = verdict(rows, true, { ...config, ...settings });
    const nMin = Math.sqrt(100 / 56);
    expect(line).toContain(
      `Noise of the released sum against central DP's: ×1.95–2.10 in standard deviation (n_min = 56 of about 100: ×${nMin.toFixed(2)}; the DDG accountant's sampling bound: ×${sampling.toFixed(2)}; rounding's larger Δ₂ and τ: ×${(1.95 / nMin / sampling).toFixed(2)}–${(2.1 / nMin / sampling).toFixed(2)}).`,
    );
    // Without settings, or without a row's noise, no such sentence.
    expect(verdict(rows)[0]).not.toContain('Noise of the released sum');
    expect(verdict([rows[0]!, row('ddg', 12, 2, 0.77)], true, { ...config, ...settings })[0]).not.toContain('Noise of the released sum');
  });

  const grids: GridDoc[] = [
    { dir: 'grid/mnist-iid', results, config },
    { dir: 'grid/mnist-dirichlet', results: results.map((r) => ({ ...r, partition: 'dirichlet(0.5)' })), config: { ...config, partition: 'dirichlet(0.5)' } },
  ];

  it('merges every grid’s rows, each keeping its task and partition', () => {
    const json = summaryJson(grids, new Date('2026-12-03T00:00:00Z')) as { results: UtilityResult[]; grids: { dir: string }[] };
    expect(json.results).toHaveLength(2 * results.length);
    expect(new Set(json.results.map((r) => `${r.task}/${r.partition}`))).toEqual(new Set(['mnist/iid', 'mnist/dirichlet(0.5)']));
    expect(json.grids.map((g) => g.dir)).toEqual(['grid/mnist-iid', 'grid/mnist-dirichlet']);
    const md = summaryMarkdown(grids, new Date('2026-12-03T00:00:00Z'));
    expect(md).toContain('## mnist, IID ([grid](grid/mnist-iid/utility.md))');
    expect(md).toContain('![accuracy against bits](grid/mnist-dirichlet/utility-bits.svg)');
  });

  it('pads tables as the formatter does, and leaves other lines alone', () => {
    expect(alignTables('x\n| a | ε = 2 |\n|---|---|\n| longer cell | — |\ny')).toBe(
      'x\n| a           | ε = 2 |\n| ----------- | ----- |\n| longer cell | —     |\ny',
    );
  });

  it('writes the first grid’s table and every verdict between the README markers, and refuses a README without them', () => {
    const readme = `# x\n\nbefore\n${README_BEGIN}\nold table\n${README_END}\nafter\n`;
    const next = replaceReadmeBlock(readme, readmeBlock(grids, 'docs/results/utility.md'));
    expect(next).not.toContain('old table');
    expect(next.startsWith('# x\n\nbefore\n')).toBe(true);
    expect(next.endsWith(`${README_END}\nafter\n`)).toBe(true);
    expect(next).toContain('| DDG, 12 bits          | 77.3 ± 1.0 | 94.1 ± 1.0 |');
    expect(next).toContain('| --------------------- | ---------- | ---------- |');
    expect(next).toContain('mnist, dirichlet(0.5):');
    // Written twice: the same README.
    expect(replaceReadmeBlock(next, readmeBlock(grids, 'docs/results/utility.md'))).toBe(next);
    expect(() => replaceReadmeBlock('# no markers\n', 'x')).toThrow(/utility:begin/);
  });
});
