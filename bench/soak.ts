/**
 * The liveness soak of issue 13 on its own (apps/coordinator/bench/soak.bench.ts): 30 rounds with 2
 * share-poisoning clients, 40 idle Sybils and one client that reconnects in a loop. Writes
 * bench/results/soak.json, prints a summary and exits 1 unless every round completed, the run is
 * `completed` and the coordinator's memory stayed flat. `pnpm bench soak` runs the same as a bench suite.
 *
 *   node --import tsx bench/soak.ts [--rounds 30] [--sybils 40] [--poisoners 2] [--honest 6] [--quick]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runSoak, SOAK_DEFAULTS, SOAK_QUICK, type SoakOptions } from '../apps/coordinator/bench/soak.bench.ts';
import { machine, writeResults } from './lib.ts';

const NUMERIC = {
  rounds: 'rounds',
  sybils: 'idle Sybils (hello + ready, then silent)',
  poisoners: 'share-poisoning clients',
  honest: 'honest clients besides the reconnecting one',
  'clients-per-round': 'parties selected per attempt (at most --honest)',
  'min-clients': 'n_min',
  'max-attempts': 'counted aborted attempts per round before the run fails',
  'training-deadline': 'seconds for local training + AdvertiseKeys',
  'stage-deadline': 'seconds for every other stage',
  'reconnect-every': 'least seconds between the reconnecting client’s drops (the gateway allows 10 resumes a minute)',
  'drop-within': 'seconds after a task within which it drops (a random point of the round)',
  'reconnect-down': 'most seconds it stays away (uniform from 0.05)',
  epochs: 'local epochs (paces the rounds)',
  'stall-after': 'seconds without a round starting or ending that count as a stall',
  'timeout-min': 'minutes the run may take in all',
} as const;
type Numeric = keyof typeof NUMERIC;

const { values } = parseArgs({
  options: {
    ...(Object.fromEntries(Object.keys(NUMERIC).map((k) => [k, { type: 'string' }])) as Record<Numeric, { type: 'string' }>),
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (values.help) {
  const d = SOAK_DEFAULTS;
  const defaults: Record<Numeric, number> = {
    rounds: d.rounds,
    sybils: d.sybils,
    poisoners: d.poisoners,
    honest: d.honest,
    'clients-per-round': d.clientsPerRound,
    'min-clients': d.minClients,
    'max-attempts': d.maxAttempts,
    'training-deadline': d.trainingDeadline,
    'stage-deadline': d.stageDeadline,
    'reconnect-every': d.reconnectEveryMs / 1000,
    'drop-within': d.dropWithinMs / 1000,
    'reconnect-down': d.reconnectDownMs / 1000,
    epochs: d.epochs,
    'stall-after': d.stallMs / 1000,
    'timeout-min': d.timeoutMs / 60_000,
  };
  process.stdout.write(`Usage: node --import tsx bench/soak.ts [options]
The liveness soak of issue 13: a coordinator in this process, the clients in a child process.

${Object.entries(NUMERIC)
  .map(([k, what]) => `  --${k.padEnd(18)} ${what} (default ${defaults[k as Numeric]})`)
  .join('\n')}
  --quick              ${Object.entries(SOAK_QUICK)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')} (a smoke test, under a minute)
  --out FILE           write the JSON there instead of bench/results/soak.json (trial runs)
`);
  process.exit(0);
}

const num = (k: Numeric): number | undefined => {
  const v = values[k];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${k} ${v}: expected a non-negative number`);
  return n;
};
const given: Partial<Record<keyof SoakOptions, number | undefined>> = {
  rounds: num('rounds'),
  sybils: num('sybils'),
  poisoners: num('poisoners'),
  honest: num('honest'),
  clientsPerRound: num('clients-per-round'),
  minClients: num('min-clients'),
  maxAttempts: num('max-attempts'),
  trainingDeadline: num('training-deadline'),
  stageDeadline: num('stage-deadline'),
  reconnectEveryMs: num('reconnect-every') === undefined ? undefined : num('reconnect-every')! * 1000,
  dropWithinMs: num('drop-within') === undefined ? undefined : num('drop-within')! * 1000,
  reconnectDownMs: num('reconnect-down') === undefined ? undefined : num('reconnect-down')! * 1000,
  epochs: num('epochs'),
  stallMs: num('stall-after') === undefined ? undefined : num('stall-after')! * 1000,
  timeoutMs: num('timeout-min') === undefined ? undefined : num('timeout-min')! * 60_000,
};
const options: Partial<SoakOptions> = {
  ...(values.quick ? SOAK_QUICK : {}),
  ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
  onProgress: (line) => process.stderr.write(`${line}\n`),
};

const r = await runSoak(options);
const extra = { cpuAffinity: 'all cores', ...r.details };
let wrote = 'bench/results/soak.json';
if (values.out) {
  wrote = resolve(values.out);
  mkdirSync(dirname(wrote), { recursive: true });
  writeFileSync(wrote, `${JSON.stringify({ suite: 'soak', machine: machine(), ...extra, figures: r.figures }, null, 2)}\n`);
} else writeResults('soak', r.figures, extra);
const line = (name: string) => r.figures.find((f) => f.name === name);
const show = (name: string) => {
  const f = line(name);
  return f ? `${f.value} ${f.unit}${f.note ? ` (${f.note})` : ''}` : '?';
};
process.stdout.write(
  [
    `soak ${r.ok ? 'PASSED' : 'FAILED'}: ${wrote}`,
    `  rounds completed      ${show('soak-rounds-completed')}`,
    `  wall time             ${show('soak-wall-time')}`,
    `  attempts aborted      ${show('soak-attempts-aborted')}; counted ${line('soak-attempts-counted')?.value}`,
    `  parties excluded      ${show('soak-parties-excluded')}; poisoners ${line('soak-poisoners-excluded')?.value}`,
    `  idle Sybils           ${show('soak-sybil-probes')}; selected ${show('soak-sybil-selections')}`,
    `  memory growth         ${show('soak-memory-growth')}`,
    `  memory slope          ${show('soak-memory-slope')}; heap ${show('soak-heap-slope')}; rss ${show('soak-rss-slope')}`,
    `  reconnecting client   ${show('soak-reconnects')}; ${show('soak-reconnector-bytes')}; ≤ ${line('soak-reconnector-tasks-per-attempt')?.value} tasks per attempt`,
    ...r.failures.map((f) => `  FAILED: ${f}`),
    '',
  ].join('\n'),
);
process.exit(r.ok ? 0 : 1);
