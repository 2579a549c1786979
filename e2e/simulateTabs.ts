/**
 * `npm run simulate:tabs -- --tabs N --rounds R [--headed] [--url URL --token T] [--epsilon E]`: the browser system
 * working, without writing code. Opens N Chromium tabs (each its own browser context, so its own client)
 * against a coordinator — one started here on a free port unless --url is given — runs R rounds and prints a
 * line per round.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { io } from 'socket.io-client';
import { createCoordinator, type RoundSummary } from '@hushfl/coordinator';
import { ApiError, OperatorClient } from '@hushfl/operator-client';
import { OPERATOR_NAMESPACE, parseRunConfig, type RunConfigInput } from '@hushfl/protocol';
import { chromiumArgs, chromiumPath } from '../playwright.config.ts';

function fail(message: string): never {
  process.stderr.write(`simulate:tabs: ${message}\n`);
  process.exit(2);
}

const HELP = `Usage: npm run simulate:tabs -- [flags]
Opens Chromium tabs, each its own client, against a coordinator, runs the rounds and prints a line per round.

  --tabs <n>       tabs (clients), an integer in [3, 64] (default 4)
  --rounds <n>     rounds, an integer in [1, 1000] (default 3)
  --headed         show the browser window
  --url <url>      use this running coordinator (default: start one here on a free port)
  --token <t>      operator token of --url (needed with --url)
  --epsilon <e>    target ε of the run's DDG noise, > 0 (default: no noise)
  --backend <b>    TensorFlow.js backend of the tabs: webgpu, webgl, wasm or cpu (default: the best available)
  --help           print this help
`;

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        tabs: { type: 'string', default: '4' },
        rounds: { type: 'string', default: '3' },
        headed: { type: 'boolean', default: false },
        url: { type: 'string' },
        token: { type: 'string' },
        epsilon: { type: 'string' },
        backend: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (e) {
    return fail((e as Error).message);
  }
})();
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const tabs = Number(values.tabs);
const rounds = Number(values.rounds);
// SecAgg needs at least 3 parties: with 2, each learns the other's update from the sum.
if (!Number.isInteger(tabs) || tabs < 3 || tabs > 64) fail(`--tabs must be an integer in [3, 64], got '${values.tabs}'`);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 1000) fail(`--rounds must be an integer in [1, 1000], got '${values.rounds}'`);
if (values.url && !values.token) fail('--url needs --token (the operator token) to start and watch the run');
const epsilon = values.epsilon === undefined ? undefined : Number(values.epsilon);
if (epsilon !== undefined && !(epsilon > 0)) fail(`--epsilon must be a positive number, got '${values.epsilon}'`);

const config: RunConfigInput = {
  name: `tabs-${tabs}x${rounds}`,
  rounds,
  selection: { clientsPerRound: tabs },
  minClients: Math.max(3, Math.ceil(tabs * 0.75)),
  task: { shards: Math.max(67, tabs) },
  training: { epochs: 2, batchSize: 16, learningRate: 0.1 },
  ddg: epsilon !== undefined ? { bits: 16, epsilon } : { bits: 16, noise: false },
  // Up to 64 tabs: γ = 0.1 at 2^-40 needs at least 15 per round, so an absolute bound (issue 12).
  secagg: { maxColluders: 1 },
};

const token = values.token ?? 'simulate-tabs-operator-token-0123456789';
const coordinator = values.url
  ? null
  : await createCoordinator({
      port: 0,
      dataDir: mkdtempSync(join(tmpdir(), 'hushfl-tabs-')),
      logLevel: 'error',
      operatorToken: token,
      runConfig: parseRunConfig(config),
    });
const url = values.url ?? coordinator!.url;
const operator = io(new URL(OPERATOR_NAMESPACE, url).toString(), { auth: { token }, transports: ['websocket'] });
let finish: (why: string) => void = () => {};
const finished = new Promise<string>((r) => (finish = r));
let watched = 0;
operator.on('round', (r: RoundSummary) => {
  const dropped = Object.entries(r.dropped)
    .map(([s, n]) => `${n} at ${s}`)
    .join(', ');
  process.stdout.write(
    r.status === 'completed'
      ? `round ${r.round + 1}: accuracy ${((r.accuracy ?? 0) * 100).toFixed(1)} %, ε ${r.epsilon === null ? '∞ (no noise)' : r.epsilon.toFixed(3)}, ${r.contributors}/${r.selected} contributions${dropped ? `, dropped ${dropped}` : ''}, ${Object.values(r.durationsMs).reduce((a, b) => a + b, 0)} ms\n`
      : `round ${r.round + 1} (attempt ${r.attempt}) aborted: ${r.error}\n`,
  );
  if (r.status === 'completed' && ++watched >= rounds) finish(`${watched} rounds`);
});
operator.on('run', (e: { state: string; reason: string | null }) => {
  if (['completed', 'failed', 'stopped'].includes(e.state)) finish(`run ${e.state}: ${e.reason}`);
});
operator.on('connect_error', (e) => fail(`cannot watch ${url}: ${e.message}`));
if (values.url) {
  try {
    await new OperatorClient({ base: url, token, fetch }).createRun(config);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.status === 409) process.stdout.write('a run is in progress on the coordinator: the tabs join it\n');
    else fail(`the coordinator refused the run: ${e.message}`);
  }
}

process.stdout.write(`coordinator ${url}; opening ${tabs} Chromium tabs${values.headed ? ' (headed)' : ''}\n`);
const browser = await chromium.launch({ executablePath: chromiumPath, headless: !values.headed, args: chromiumArgs });
const contexts = [];
for (let i = 0; i < tabs; i++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${url}/${values.backend ? `?backend=${values.backend}` : ''}`);
  contexts.push(context);
}
const outcome = await finished;
process.stdout.write(`${outcome}\n`);
operator.close();
await browser.close();
await coordinator?.close();
process.exit(0);
