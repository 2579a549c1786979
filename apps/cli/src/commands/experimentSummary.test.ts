import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { utilityRow } from '../experiment/utilityRow.testing.ts';
import { runCli as run } from '../runCli.testing.ts';

function grid(partition: string, central: number, ddg: number, task = 'mnist') {
  const row = (mechanism: 'none' | 'central' | 'ddg', bits: number | null, epsilon: number | null, accuracy: number) =>
    utilityRow(mechanism, bits, epsilon, accuracy, { partition, epsilonVsCoordinator: epsilon, wrapsPerRound: mechanism === 'ddg' ? 0.2 : null });
  return {
    results: [row('none', null, null, 0.97), row('central', null, 8, central), row('ddg', 16, 8, ddg)],
    config: { task, partition, clientsPerRound: 100, population: 1000, sampleRate: 0.1, rounds: 30, clip: 0.25, delta: 1e-5, model: {}, dim: 10 },
  };
}

describe('hushfl experiment summary', () => {
  it('merges every grid under <out>/grid (MNIST IID first, then its other splits, then other tasks) and writes the README block', async () => {
    const out = mkdtempSync(join(tmpdir(), 'summary-'));
    for (const [name, doc] of [
      ['fashion-mnist-iid', grid('iid', 0.81, 0.8, 'fashion-mnist')],
      ['mnist-dirichlet', grid('dirichlet α=0.5', 0.94, 0.92)],
      ['mnist-iid', grid('iid', 0.948, 0.943)],
    ] as const) {
      mkdirSync(join(out, 'grid', name), { recursive: true });
      writeFileSync(join(out, 'grid', name, 'utility.json'), JSON.stringify(doc));
    }
    // A directory without a utility.json (tuning cells) is not a grid.
    mkdirSync(join(out, 'grid', 'tuning'));
    const readme = join(out, 'README.md');
    writeFileSync(readme, '# r\n\n<!-- utility:begin -->\nold\n<!-- utility:end -->\n');
    const r = await run('experiment', 'summary', '--out', out, '--readme', readme, '--json');
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'utility.json'), 'utf8'));
    expect(json.grids.map((g: { dir: string }) => g.dir)).toEqual(['grid/mnist-iid', 'grid/mnist-dirichlet', 'grid/fashion-mnist-iid']);
    expect(json.results).toHaveLength(9);
    expect(readFileSync(join(out, 'utility.md'), 'utf8')).toContain('## mnist, dirichlet α=0.5 ([grid](grid/mnist-dirichlet/utility.md))');
    const block = readFileSync(readme, 'utf8');
    expect(block).not.toContain('old');
    expect(block).toContain('within 1 point — target met');
    expect(block).toContain('16 bits 2.0 points below — target missed');
    expect(block).toContain('[utility.md](utility.md)');
  });

  it('says what to run when there is no grid, and refuses a README without the markers', async () => {
    const out = mkdtempSync(join(tmpdir(), 'summary-'));
    const none = await run('experiment', 'summary', '--out', out);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/no grids/);
    mkdirSync(join(out, 'grid', 'g'), { recursive: true });
    writeFileSync(join(out, 'grid', 'g', 'utility.json'), JSON.stringify(grid('iid', 0.9, 0.9)));
    writeFileSync(join(out, 'README.md'), '# no markers\n');
    const bad = await run('experiment', 'summary', '--out', out, '--readme', join(out, 'README.md'));
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/utility:begin/);
  });
});
