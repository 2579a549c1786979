import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { figure } from './lib.ts';
import { renderReport, writeReport, type SuiteDoc } from './report.ts';

const machine = { cpu: 'Test CPU', cores: 2, memoryGiB: 24, node: 'v20.0.0', platform: 'linux-x64', date: '2026-11-25T10:00:00.000Z' };
const mlp = { model: 'mlp', batch: 32 };
const docs: SuiteDoc[] = [
  {
    suite: 'ddp',
    machine,
    figures: [
      figure({ name: 'encode-ddg', inputs: { d: 2 ** 20 }, value: 300, unit: 'ms', target: { op: '<=', value: 250 } }),
      figure({ name: 'dgauss-sampler-throughput', inputs: { sigma: 1000 }, value: 6, unit: 'M samples/s', target: { op: '>=', value: 5 } }),
    ],
  },
  {
    suite: 'dpsgd',
    machine: { ...machine, date: '2026-11-26T11:00:00.000Z' },
    cpuAffinity: 'one core (taskset -c 0)',
    figures: [
      figure({ name: 'dpsgd-step-ghost', inputs: mlp, value: 10, unit: 'ms' }),
      figure({ name: 'dpsgd-step-naive', inputs: mlp, value: 80, unit: 'ms' }),
      figure({ name: 'dpsgd-step-ghost', inputs: { model: 'cnn', batch: 32, backend: 'cpu' }, value: 300, unit: 'ms' }),
      figure({ name: 'dpsgd-step-naive', inputs: { model: 'cnn', batch: 32, backend: 'cpu' }, value: 600, unit: 'ms' }),
      figure({ name: 'dpsgd-step-ghost', inputs: { model: 'cnn', batch: 32, backend: 'wasm' }, value: 40, unit: 'ms' }),
    ],
  },
  {
    suite: 'secagg',
    machine,
    figures: [
      figure({ name: 'secagg-graph-server-unmask', inputs: { n: 100, d: 65536, dropout: 0.1, graph: 'secagg+', k: 42, t: 25 }, value: 500, unit: 'ms' }),
      figure({ name: 'secagg-graph-server-unmask', inputs: { n: 100, d: 65536, dropout: 0.1, graph: 'complete', k: 99, t: 51 }, value: 1500, unit: 'ms' }),
    ],
  },
];

describe('bench report: wire and scaling', () => {
  const rounds = { clients: 20, rounds: 2, mechanism: 'none', bits: 16, d: 50890, download: 'float16' };
  // An exact power law t = n^1.5 · d / 10^6 at four points: the fit must recover a = 1.5, b = 1.
  const law = (n: number, d: number) => (n ** 1.5 * d) / 1e6;
  const points = [
    [100, 65536],
    [100, 100000],
    [500, 65536],
    [500, 100000],
  ] as const;
  const md = renderReport(
    [
      {
        suite: 'rounds',
        machine,
        figures: [
          figure({ name: 'bytes-up-per-party', inputs: rounds, value: 137000, unit: 'bytes' }),
          figure({ name: 'bytes-down-per-party', inputs: rounds, value: 114000, unit: 'bytes' }),
          figure({ name: 'masked-input-bytes', inputs: rounds, value: 131072, unit: 'bytes' }),
          figure({ name: 'model-download-bytes', inputs: rounds, value: 101780, unit: 'bytes' }),
          figure({ name: 'round-accuracy', inputs: rounds, value: 83.8, unit: '%' }),
        ],
      },
      {
        suite: 'secagg',
        machine,
        figures: points.map(([n, d]) => figure({ name: 'secagg-server-unmask', inputs: { n, d, dropout: 0.1, k: 42, t: 25 }, value: law(n, d), unit: 'ms' })),
      },
      {
        suite: 'scaling',
        machine,
        figures: [figure({ name: 'scaling-client-masking', inputs: { n: 100, d: 65536, dropout: 0.1, k: 84 }, value: 70, unit: 'ms' })],
      },
    ],
    new Date('2026-11-27T00:00:00Z'),
  );

  it('tabulates bytes per party up and down beside the masked input and the model', () => {
    expect(md).toContain('| clients=20, rounds=2, mechanism=none, bits=16, d=50890, download=float16 | 137 kB | 131 kB | 114 kB | 102 kB | 83.8 % |');
  });

  it('fits t ∝ n^a·d^b to the measured points and marks its values where nothing was measured', () => {
    const row = md.split('\n').find((l) => l.startsWith('| server unmask | secagg: whole round, in process | 0.1 |'))!;
    expect(row).toContain('n^1.50 · d^1.00');
    expect(row).toContain(`| ${law(100, 65536).toFixed(1)} ms |`); // 65.5: one decimal below 100
    expect(row).toContain(`(${law(1000, 2 ** 20).toFixed(0)} ms)`);
    // Too few points for a fit: no row pretends to have one; and none at all for a figure nobody measured.
    const single = md.split('\n').find((l) => l.startsWith('| client masked input | scaling: one client alone | 0.1 |'))!;
    expect(single).toContain('| 70.0 ms |');
    expect(single).toContain('too few points');
    expect(md).not.toContain('| client masking |');
  });
});

describe('bench report', () => {
  const md = renderReport(docs, new Date('2026-11-27T00:00:00Z'));

  it('lists every target with met or missed', () => {
    expect(md).toContain('| ddp | encode-ddg | d=2^20 | 300 ms | <= 250 ms | **missed** |');
    expect(md).toContain('| ddp | dgauss-sampler-throughput | sigma=1000 | 6.00 M samples/s | >= 5.00 M samples/s | met |');
  });

  it('gives each suite its own machine and date', () => {
    expect(md).toContain('Test CPU, 2 cores, 24 GiB, Node v20.0.0, linux-x64; run 2026-11-25 10:00 UTC');
    expect(md).toContain('run 2026-11-26 11:00 UTC; the suite ran on one core (taskset -c 0).');
  });

  it('computes the speed-ups over the naive baselines from the paired figures', () => {
    expect(md).toContain('| 10.0 ms | 80.0 ms | 8.00× |');
    expect(md).toContain('| DP-SGD step, ghost norms vs naive per-example loop | model=cnn, batch=32, backend=cpu | 300 ms | 600 ms | 2.00× |');
    // Where only our step can run, it is compared with the naive loop on the backend where that runs.
    expect(md).toContain(
      '| DP-SGD step, ghost norms on wasm vs naive loop on cpu (the naive loop cannot run on wasm) | model=cnn, batch=32 | 40.0 ms | 600 ms | 15.00× |',
    );
    expect(md).toMatch(/SecAgg\+ vs complete graph, server unmask \| n=100, d=2\^16, dropout=0.1, k=42 vs 99 \| 500 ms \| 1500 ms \| 3.00× \|/);
  });

  it('writes REPORT.md beside the results directory', () => {
    const root = mkdtempSync(join(tmpdir(), 'bench-'));
    const dir = join(root, 'results');
    mkdirSync(dir);
    for (const d of docs) writeFileSync(join(dir, `${d.suite}.json`), JSON.stringify(d));
    expect(writeReport(dir)).toBe(join(root, 'REPORT.md'));
    const text = readFileSync(join(root, 'REPORT.md'), 'utf8');
    // Suites in the fixed order ddp, secagg, dpsgd whatever the file order.
    expect(text.indexOf('## ddp')).toBeLessThan(text.indexOf('## secagg'));
    expect(text.indexOf('## secagg')).toBeLessThan(text.indexOf('## dpsgd'));
  });
});
