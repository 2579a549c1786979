/**
 * The client page in real Chromium against a real coordinator: it completes rounds together with Node clients
 * started by `hushfl simulate --url`, its main thread stays responsive while the Workers train, encode and
 * mask, it is cross-origin isolated, and its identity lives in IndexedDB across reloads until "Forget me".
 * Under the coordinator's Content Security Policy, the pages of these tests log no violation.
 */
import { expect, test } from '@playwright/test';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LONG_TASK_PROBE, OPERATOR_TOKEN, startCoordinator } from './support/coordinator.ts';

const hushfl = fileURLToPath(new URL('../apps/cli/bin/hushfl.mjs', import.meta.url));

// Chromium logs what the policy blocks in the page to its console. A Worker's blocked loads do not reach
// Playwright's console; a Worker denied what it needs (WASM, its blob: pthreads) fails the round instead.
let cspViolations: string[] = [];
test.beforeEach(({ page }) => {
  cspViolations = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${m.worker() ? `worker ${m.worker()!.url()}` : 'page'}: ${m.text()}`);
  });
});
test.afterEach(() => expect(cspViolations).toEqual([]));

function simulate(url: string, clients: number, rounds: number): Promise<{ code: number; out: string; err: string }> {
  const child = spawn(
    process.execPath,
    [
      hushfl,
      'simulate',
      '--url',
      url,
      '--token',
      OPERATOR_TOKEN,
      '--clients',
      String(clients),
      '--rounds',
      String(rounds),
      '--workers',
      '1',
      '--max-colluders',
      '1',
      '--json',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code: code ?? 1, out, err })));
}

test('a tab completes DDG rounds with Node clients from `hushfl simulate --url`, its main thread staying responsive', async ({ page }, info) => {
  const { c, rounds } = await startCoordinator({
    rounds: 2,
    minClients: 4,
    selection: { clientsPerRound: 4 },
    ddg: { bits: 16, gamma: 2e-4, localStddev: 0.004 },
  });
  try {
    await page.addInitScript(LONG_TASK_PROBE);
    await page.goto(`${c.url}/?backend=wasm`);
    await expect(page.getByTestId('client-id')).toHaveText(/^[A-Za-z0-9_-]{16}$/, { timeout: 30_000 });
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await expect(page.getByTestId('backend')).toHaveText('wasm');
    // Cross-origin isolated, WASM trains on its threaded SIMD build (and the round below completes on it).
    await expect(page.getByTestId('wasm-build')).toHaveText('threaded SIMD');
    await page.evaluate(() => (window as unknown as { __resetLongest(): void }).__resetLongest());

    const sim = await simulate(c.url, 3, 2);
    expect(sim.code, sim.err).toBe(0);
    expect(JSON.parse(sim.out).rounds).toHaveLength(2);

    await expect(page.getByTestId('notice')).toContainText('Round 2 completed with this tab’s update in the sum', { timeout: 30_000 });
    await expect(page.getByTestId('stage')).toHaveText('Done');
    await expect(page.getByTestId('epsilon-ddg')).not.toHaveText('no noise');
    await expect(page.getByTestId('secagg-guarantee')).toHaveText(/^k = 3 of 4 parties, t = \d; holds against at most 1 client colluding/);
    expect(rounds.filter((r) => r.status === 'completed' && r.contributors === 4)).toHaveLength(2);
    const longest = await page.evaluate(() => (window as unknown as { __longest: number }).__longest);
    info.annotations.push({ type: 'longest main-thread task (ms)', description: String(longest) });
    expect(longest).toBeLessThan(200);
    await page.screenshot({ path: info.outputPath('client-page.png'), fullPage: true });
  } finally {
    await c.close();
  }
});

test('identity and metrics live in IndexedDB: a reload rejoins as the same client; "Forget me" clears it', async ({ page }) => {
  const { c } = await startCoordinator();
  try {
    await page.goto(c.url);
    const id = page.getByTestId('client-id');
    await expect(id).toHaveText(/^[A-Za-z0-9_-]{16}$/, { timeout: 30_000 });
    const first = await id.textContent();
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }))).toBe('{}');
    expect(page.url()).not.toContain(first!);
    await page.reload();
    await expect(id).toHaveText(first!, { timeout: 30_000 });
    await expect(page.getByTestId('notice')).toContainText('Rejoined as the same client');
    await page.getByTestId('forget').click();
    await expect(page.getByTestId('notice')).toContainText('Forgotten');
    await page.reload();
    await expect(id).toHaveText(/^[A-Za-z0-9_-]{16}$/, { timeout: 30_000 });
    expect(await id.textContent()).not.toBe(first);
  } finally {
    await c.close();
  }
});

test('?miniClients=3: one tab is one party with three contributions, each on its own shard', async ({ page }) => {
  // n_min counts parties (issue 12 §2): the tab and two Node clients are three parties, five contributions.
  const { c, rounds } = await startCoordinator({ rounds: 1, minClients: 3, selection: { clientsPerRound: 5 }, maxMiniClients: 4 });
  const { connectNodeClient } = await import('@hushfl/node');
  const nodes = [await connectNodeClient({ url: c.url }), await connectNodeClient({ url: c.url })];
  try {
    await page.goto(`${c.url}/?miniClients=3&backend=wasm`);
    await expect(page.getByTestId('mini-clients')).toHaveText('3', { timeout: 30_000 });
    await expect(page.getByTestId('notice')).toContainText('Round 1 completed with this tab’s update in the sum', { timeout: 60_000 });
    expect(rounds[0]).toMatchObject({ status: 'completed', contributors: 5, parties: 3, selected: 3 });
    const shards = await page.evaluate(async () => {
      const req = indexedDB.open('hushfl');
      const db = await new Promise<IDBDatabase>((resolve) => (req.onsuccess = () => resolve(req.result)));
      const tx = db.transaction('kv').objectStore('kv').get('identity');
      return new Promise<number[]>((resolve) => (tx.onsuccess = () => resolve(tx.result.shards)));
    });
    expect(new Set(shards).size).toBe(3);
  } finally {
    for (const node of nodes) await node.close();
    await c.close();
  }
});

test('says clearly when the coordinator is unreachable', async ({ page }) => {
  const { c } = await startCoordinator();
  await page.goto(c.url);
  await expect(page.getByTestId('connection')).toHaveText('connected', { timeout: 30_000 });
  await c.close();
  await expect(page.getByTestId('connection')).toHaveText('unreachable', { timeout: 30_000 });
  await expect(page.getByTestId('notice')).toContainText(/unreachable|Disconnected from the coordinator/);
});

test('says when the tab was not selected for a round, and when a round it was in was aborted', async ({ page }) => {
  // Five Node clients that vanish after advertising their keys in every attempt of round 1: each attempt aborts
  // at the ShareKeys deadline (SecAgg needs three parties to share keys). The tab opens while the first attempt
  // runs without it; each later attempt draws 3 of the 6, so the tab is left out of one (p = 1/2 each) and drawn
  // into another, which aborts too.
  const { c, rounds } = await startCoordinator({
    rounds: 2,
    minClients: 3,
    selection: { clientsPerRound: 3 },
    maxAttempts: 30,
    deadlines: { training: 60, shareKeys: 2, maskedInput: 20, consistencyCheck: 20, unmasking: 20 },
  });
  const { connectNodeClient } = await import('@hushfl/node');
  const vanishInRoundOne = (task: { round: number }) => (task.round === 0 ? ('after-advertise' as const) : null);
  const nodes = [...(await Promise.all(Array.from({ length: 5 }, () => connectNodeClient({ url: c.url, vanish: vanishInRoundOne, rejoinAfterMs: 200 }))))];
  try {
    await expect.poll(() => c.sqlite!.rounds(c.sqlite!.runs()[0]!.id).some((r) => r.state === 'running'), { timeout: 30_000 }).toBe(true);
    await page.goto(`${c.url}/?backend=wasm`);
    // Left out with p = 1/2 an attempt; an attempt it is in lasts its training, so under load a few in a row can
    // take over 30 s, and the next attempt may replace the notice quickly: poll it fast, for longer.
    await expect.poll(() => page.getByTestId('notice').textContent(), { timeout: 90_000, intervals: [20] }).toMatch(/This tab was not selected for round 1/);
    // The next attempt starts 250 ms after an abort and may replace the notice: poll it fast.
    await expect
      .poll(() => page.getByTestId('notice').textContent(), { timeout: 150_000, intervals: [20] })
      .toMatch(/Round 1 was aborted: .+ It will be re-run\./);
    expect(rounds.some((r) => r.round === 0 && r.status === 'aborted')).toBe(true);
  } finally {
    for (const n of nodes) await n.close();
    await c.close();
  }
});
