/**
 * bench/REPORT.md from bench/results/*.json: every figure with its target, the machine and the date of its
 * suite, the comparisons with naive baselines, the bytes on the wire and SecAgg+'s scaling in n and d. `pnpm bench` writes it after the suites; on its own,
 * `node --import tsx bench/report.ts` regenerates it from the stored results.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resultsDir, type Figure } from './lib.ts';

export interface SuiteDoc {
  readonly suite: string;
  readonly machine: { cpu: string; cores: number; memoryGiB: number; node: string; platform: string; date: string };
  /** Where the suite's process could run: 'one core (taskset -c 0)' or 'all cores'. */
  readonly cpuAffinity?: string;
  readonly figures: readonly Figure[];
}

/** What each suite measures, in a sentence (the suites' own headers say more). */
const ABOUT: Record<string, string> = {
  ddp: "packages/ddp: the exact discrete Gaussian sampler, the randomized Hadamard transform, randomized rounding and the whole client encoding (one core). The sampler at each σ and the encode at each d are the median of 5 fresh worker threads run one after another, each the median of its repeats (a client samples one σ and encodes one d a process): V8 settles their hot loops differently from one isolate to the next and after other σ or d, and this machine's speed drifts within minutes (compare the FWHT figures between runs).",
  secagg:
    'packages/secagg: SecAgg+ with real X25519/HKDF/AES-GCM/AES-CTR, all parties in one process; clients that drop do so after sharing keys, the costliest case for the server.',
  dpsgd:
    'packages/client: one DP-SGD step (per-example clipping + noise) with ghost norms and book-keeping (Bu et al. 2023; one backward pass per batch) against the naive per-example loop, on the tfjs backend named.',
  browser:
    "e2e/bench: the client's DDG encoding, exact sampler and SecAgg+ stages inside dedicated Workers of real Chromium (playwright-core), one core: the encode at each d and the sampler at each σ as the median of 3 fresh Workers; the SecAgg round runs all its parties in one Worker, and one client's masked input alone at d = 2^16 and 2^20.",
  rounds:
    "apps/coordinator + apps/node-client: wall time of whole rounds over Socket.IO on loopback (training included), mean per round, with each stage's share (issue 18 §3). AdvertiseKeys holds the clients' local training, the largest share at 10 clients; tfjs-wasm's transposed matrix products run as a Transpose and a plain product and evaluation predicts in batches of 512 instead of 32 to cut it.",
  scale:
    'apps/coordinator/bench/scale.bench.ts and apps/cli/bench/cluster.bench.ts (issue 17): unmasking split by coordinate ranges over worker threads against in process (the masks of n survivors at 10 % and 30 % dropout, d = 100 000); then two `hushfl start` nodes on a Redis and a Postgres on loopback under `hushfl loadtest` clients (synthetic updates, real DDG and SecAgg), all on this machine: peak connections, rounds of many parties at d = 2^16, a leader killed with SIGKILL mid-round.',
  scaling:
    "apps/coordinator/bench/scaling.bench.ts (issue 18 §4): one client's masked input alone (k X25519 + HKDF seeds, k + 1 AES-256-CTR masks, 16-bit packing; WebCrypto, whose AES-CTR runs on libuv threads; in sequence, so an upper bound) and the masks the server removes regenerated on its unmasking worker threads (without the seeds' agreements and the Shamir reconstructions), at every n ∈ {100, 500, 1 000} and d ∈ {2^16, 2^20}, k as chooseSecAggParams picks it.",
  unmask:
    "apps/coordinator/bench/scale.bench.ts alone (issue 18 §3): the masks a server removes for n = 500 at d = 100 000, regenerated in process (WebCrypto) and split by coordinate ranges over worker threads (node:crypto AES-256-CTR in 32 KiB pieces, int32 sums in WebAssembly SIMD), at the issue's reference k and at k as chooseSecAggParams picks it.",
  soak: "apps/coordinator/bench/soak.bench.ts (issue 13): a whole run over Socket.IO on loopback with share-poisoning clients, idle Sybils and a client that reconnects in a loop beside honest Node clients; every round must complete and the coordinator's memory (heapUsed + external after full GCs, its own process) stay flat.",
};

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const inputsText = (inputs: Record<string, unknown>) =>
  Object.entries(inputs)
    .map(([k, v]) => `${k}=${typeof v === 'number' && v >= 65536 && Number.isInteger(Math.log2(v)) ? `2^${Math.log2(v)}` : String(v)}`)
    .join(', ');
const targetText = (f: Figure) => (f.target ? `${f.target.op} ${fmt(f.target.value)} ${f.unit}` : '');
const metText = (f: Figure) => (f.met === undefined ? '' : f.met ? 'met' : '**missed**');
const machineText = (m: SuiteDoc['machine']) =>
  `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; run ${m.date.slice(0, 16).replace('T', ' ')} UTC`;

/** Pairs of figures that differ only in one input, as "ours vs baseline" rows. */
function comparisons(docs: readonly SuiteDoc[]): string[] {
  const rows: string[] = [];
  const all = docs.flatMap((d) => d.figures);
  for (const ghost of all.filter((f) => f.name === 'dpsgd-step-ghost')) {
    const naive = all.find((f) => f.name === 'dpsgd-step-naive' && JSON.stringify(f.inputs) === JSON.stringify(ghost.inputs));
    if (naive) {
      rows.push(
        `| DP-SGD step, ghost norms vs naive per-example loop | ${inputsText(ghost.inputs)} | ${fmt(ghost.value)} ms | ${fmt(naive.value)} ms | ${(naive.value / ghost.value).toFixed(2)}× |`,
      );
      continue;
    }
    // A backend the naive loop cannot run on (tfjs-wasm has no Conv2D filter gradient): against the loop where it runs.
    const { backend, ...rest } = ghost.inputs;
    const elsewhere = all.find(
      (f) => f.name === 'dpsgd-step-naive' && f.inputs.backend !== backend && JSON.stringify({ ...f.inputs, backend }) === JSON.stringify(ghost.inputs),
    );
    if (elsewhere) {
      rows.push(
        `| DP-SGD step, ghost norms on ${backend} vs naive loop on ${elsewhere.inputs.backend} (the naive loop cannot run on ${backend}) | ${inputsText(rest)} | ${fmt(ghost.value)} ms | ${fmt(elsewhere.value)} ms | ${(elsewhere.value / ghost.value).toFixed(2)}× |`,
      );
    }
  }
  for (const name of ['secagg-graph-client-total', 'secagg-graph-server-unmask'] as const) {
    for (const sparse of all.filter((f) => f.name === name && f.inputs.graph === 'secagg+')) {
      const full = all.find((f) => f.name === name && f.inputs.graph === 'complete' && f.inputs.n === sparse.inputs.n && f.inputs.d === sparse.inputs.d);
      if (!full) continue;
      const what = name === 'secagg-graph-client-total' ? 'SecAgg+ vs complete graph, client time (all stages)' : 'SecAgg+ vs complete graph, server unmask';
      const { n, d, dropout } = sparse.inputs;
      rows.push(
        `| ${what} | ${inputsText({ n, d, dropout })}, k=${sparse.inputs.k} vs ${full.inputs.k} | ${fmt(sparse.value)} ms | ${fmt(full.value)} ms | ${(full.value / sparse.value).toFixed(2)}× |`,
      );
    }
  }
  return rows;
}

/** Bytes per party per round on the wire (the rounds suite's figures), one row per run. */
function wireRows(docs: readonly SuiteDoc[]): string[] {
  const all = docs.flatMap((d) => d.figures);
  const rows: string[] = [];
  for (const up of all.filter((f) => f.name === 'bytes-up-per-party')) {
    const same = (name: string) => all.find((f) => f.name === name && JSON.stringify(f.inputs) === JSON.stringify(up.inputs));
    const down = same('bytes-down-per-party');
    const masked = same('masked-input-bytes');
    const model = same('model-download-bytes');
    const accuracy = same('round-accuracy');
    rows.push(
      `| ${inputsText(up.inputs)} | ${fmt(up.value / 1000)} kB | ${masked ? `${fmt(masked.value / 1000)} kB` : ''} | ${down ? `${fmt(down.value / 1000)} kB` : ''} | ${model ? `${fmt(model.value / 1000)} kB` : ''} | ${accuracy ? `${fmt(accuracy.value)} %` : ''} |`,
    );
  }
  return rows;
}

/**
 * Client and server SecAgg+ time against n and d: the measured points, and the least-squares fit of
 * log t = c + a·log n + b·log d over them, with its values where nothing was measured. Two sources: the secagg
 * suite (whole rounds, all parties in one process, one core) and the scaling suite (each side alone: one client's
 * masked input; the server's masks on its worker threads), which measures every point of the issue's grid.
 */
function scalingRows(docs: readonly SuiteDoc[]): string[] {
  const all = docs.flatMap((d) => d.figures);
  const rows: string[] = [];
  const what = [
    ['secagg-client-masking', 'client masking', 'secagg: whole round, one core'],
    ['secagg-server-unmask', 'server unmask', 'secagg: whole round, in process'],
    ['scaling-client-masking', 'client masked input', 'scaling: one client alone'],
    ['scaling-server-unmask', 'server masks regenerated', 'scaling: worker threads, AES-CTR only'],
  ] as const;
  for (const [name, label, source] of what) {
    for (const dropout of [0.1, 0.3]) {
      const points = all
        .filter((f) => f.name === name && f.inputs.dropout === dropout && typeof f.inputs.n === 'number' && typeof f.inputs.d === 'number')
        .map((f) => ({ n: f.inputs.n as number, d: f.inputs.d as number, t: f.value }));
      if (points.length === 0) continue;
      const fit = fitPowerLaw(points);
      const cells: string[] = [];
      for (const n of [100, 500, 1000]) {
        for (const d of [2 ** 16, 100_000, 2 ** 20]) {
          const m = points.find((p) => p.n === n && p.d === d);
          cells.push(m ? `${fmt(m.t)} ms` : fit ? `(${fmt(fit.at(n, d))} ms)` : '—');
        }
      }
      rows.push(`| ${label} | ${source} | ${dropout} | ${cells.join(' | ')} | ${fit ? `n^${fit.a.toFixed(2)} · d^${fit.b.toFixed(2)}` : 'too few points'} |`);
    }
  }
  return rows;
}

/** log t = c + a·log n + b·log d by least squares (needs points spanning two n and two d). */
function fitPowerLaw(points: readonly { n: number; d: number; t: number }[]): { a: number; b: number; at: (n: number, d: number) => number } | null {
  if (new Set(points.map((p) => p.n)).size < 2 || new Set(points.map((p) => p.d)).size < 2 || points.some((p) => !(p.t > 0))) return null;
  // Normal equations of the 3-parameter linear model in (1, log n, log d).
  const xs = points.map((p) => [1, Math.log(p.n), Math.log(p.d)]);
  const ys = points.map((p) => Math.log(p.t));
  const ata = [0, 1, 2].map((i) => [0, 1, 2].map((j) => xs.reduce((s, x) => s + x[i]! * x[j]!, 0)));
  const aty = [0, 1, 2].map((i) => xs.reduce((s, x, k) => s + x[i]! * ys[k]!, 0));
  const [c, a, b] = solve3(ata, aty);
  return { a, b, at: (n, d) => Math.exp(c + a * Math.log(n) + b * Math.log(d)) };
}

function solve3(m: number[][], v: number[]): [number, number, number] {
  const det = (x: number[][]) =>
    x[0]![0]! * (x[1]![1]! * x[2]![2]! - x[1]![2]! * x[2]![1]!) -
    x[0]![1]! * (x[1]![0]! * x[2]![2]! - x[1]![2]! * x[2]![0]!) +
    x[0]![2]! * (x[1]![0]! * x[2]![1]! - x[1]![1]! * x[2]![0]!);
  const d = det(m);
  const col = (k: number) => det(m.map((row, i) => row.map((e, j) => (j === k ? v[i]! : e))));
  return [col(0) / d, col(1) / d, col(2) / d];
}

export function renderReport(docs: readonly SuiteDoc[], generated = new Date()): string {
  const out: string[] = [
    '# Benchmark report',
    '',
    `Generated ${generated.toISOString().slice(0, 16).replace('T', ' ')} UTC from \`bench/results/*.json\` by \`pnpm bench\` (re-run it to refresh; \`pnpm bench <suite> [--quick]\` for one suite).`,
    'Times are medians of repeats or means over clients, as each suite says. Targets come from the issues; "missed" is reported, not hidden.',
    '',
  ];
  const targeted = docs.flatMap((d) => d.figures.filter((f) => f.target).map((f) => ({ d, f })));
  if (targeted.length) {
    out.push('## Targets', '', '| suite | figure | inputs | measured | target | |', '|---|---|---|---|---|---|');
    for (const { d, f } of targeted)
      out.push(
        `| ${d.suite} | ${f.name} | ${inputsText(f.inputs)} | ${fmt(f.value)} ${f.unit} | ${targetText(f)} | ${metText(f)}${f.note ? ` (${f.note})` : ''} |`,
      );
    out.push('');
  }
  const cmp = comparisons(docs);
  out.push('## Against naive baselines', '');
  if (cmp.length) out.push('| comparison | inputs | ours | baseline | speed-up |', '|---|---|---|---|---|', ...cmp, '');
  out.push(
    "BigInt vs typed-array encoding: not compared; the encoder was written on typed arrays (Float64Array/Uint32Array, in place) from the start, and BigInt appears only in the sampler's exact fallback for draws whose integers pass 2^52.",
    '',
  );
  const wire = wireRows(docs);
  if (wire.length) {
    out.push(
      '## Bytes on the wire',
      '',
      "Per party and round (the rounds suite): up is every upload (keys, shares, the masked input at B bits a coordinate, unmasking), down every download (the task with the model, the neighbours' keys and shares).",
      '',
      '| run | up | of which the masked input | down | of which the model | accuracy after the run |',
      '|---|---|---|---|---|---|',
      ...wire,
      '',
    );
  }
  const scaling = scalingRows(docs);
  if (scaling.some((r) => !r.endsWith('too few points |'))) {
    out.push(
      '## Scaling',
      '',
      'SecAgg+ time against the parties n and the dimension d, at the k chooseSecAggParams picks for the dropout rate: whole rounds (the secagg suite) and each side alone (the scaling suite, every point of n ∈ {100, 500, 1 000} × d ∈ {2^16, 2^20} measured). Measured points as they are; in parentheses the fitted power law t ∝ n^a·d^b at points not measured (a fit, not a measurement).',
      '',
      '| time | source | dropout | n=100, d=2^16 | n=100, d=100 000 | n=100, d=2^20 | n=500, d=2^16 | n=500, d=100 000 | n=500, d=2^20 | n=1000, d=2^16 | n=1000, d=100 000 | n=1000, d=2^20 | fitted growth |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...scaling,
      '',
    );
  }
  for (const d of docs) {
    out.push(
      `## ${d.suite}`,
      '',
      ABOUT[d.suite] ?? '',
      '',
      `Machine: ${machineText(d.machine)}${d.cpuAffinity ? `; the suite ran on ${d.cpuAffinity}` : ''}.`,
      '',
      '| figure | inputs | value | target | |',
      '|---|---|---|---|---|',
    );
    for (const f of d.figures)
      out.push(`| ${f.name} | ${inputsText(f.inputs)} | ${fmt(f.value)} ${f.unit} | ${targetText(f)} | ${metText(f)}${f.note ? ` ${f.note}` : ''} |`);
    out.push('');
  }
  return out.join('\n');
}

const ORDER = ['ddp', 'secagg', 'scaling', 'unmask', 'dpsgd', 'browser', 'rounds', 'soak', 'scale'];

export function readResults(dir = resultsDir): SuiteDoc[] {
  const docs = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as SuiteDoc);
  return docs.sort((a, b) => (ORDER.indexOf(a.suite) + 1 || 99) - (ORDER.indexOf(b.suite) + 1 || 99) || a.suite.localeCompare(b.suite));
}

export function writeReport(dir = resultsDir): string {
  const path = join(dir, '..', 'REPORT.md');
  writeFileSync(path, renderReport(readResults(dir)));
  return path;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.stdout.write(`wrote ${writeReport()}\n`);
