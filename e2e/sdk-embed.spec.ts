/**
 * The SDK embedded in a third-party site (issue 14 §3): examples/embed-site, built with Vite, served from
 * another loopback origin (cross-origin isolated, like the coordinator's pages) with a digits.json of real
 * MNIST training digits. It calls joinFederation with its own digits and completes rounds of a `data: local`
 * run with two Node clients that bring their own shards; the coordinator serves no training data and the page
 * sends it nothing over HTTP. Digits that do not fit are refused naming the digit, before connecting; a
 * coordinator that does not allow the site's origin refuses it, and the site says so.
 */
import { expect, type Page, test } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCoordinator } from '@hushfl/coordinator';
import { parseRunConfig, type RunConfigInput } from '@hushfl/protocol';
import type { StoredSplit } from '@hushfl/tasks';
import type { CoordinatorEvent, RoundSummary } from '@hushfl/coordinator';
import { firstOfEachClass, ownShard } from './support/digits.ts';
import { serveFiles } from './support/staticServer.ts';

const SITE = fileURLToPath(new URL('../examples/embed-site/dist/', import.meta.url));
const PIXELS = 28 * 28;

/** The built site from disk, and `extra` files from memory, cross-origin isolated as the coordinator serves its pages. */
const serveSite = (extra: Record<string, string>) => serveFiles(extra, SITE);

/** A coordinator (its own data directory) that lets `allowedOrigins` connect clients. */
async function coordinator(config: Partial<RunConfigInput> & Pick<RunConfigInput, 'rounds' | 'minClients'>, allowedOrigins: string[]) {
  const c = await createCoordinator({
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), 'hushfl-e2e-sdk-')),
    logLevel: 'error',
    allowedOrigins,
    runConfig: parseRunConfig({
      task: { name: 'mnist', model: { kind: 'mlp', hidden: [] } },
      training: { epochs: 1, batchSize: 16, learningRate: 0.1 },
      deadlines: { training: 120, shareKeys: 20, maskedInput: 30, consistencyCheck: 20, unmasking: 20 },
      ddg: { noise: false, bits: 16 },
      secagg: { maxColluders: 1 },
      data: 'local',
      ...config,
    }),
  });
  const rounds: RoundSummary[] = [];
  c.manager.on('event', (e: CoordinatorEvent) => {
    if (e.type === 'round') rounds.push(e);
  });
  // Every HTTP request the coordinator receives, before Fastify routes it.
  const served: string[] = [];
  c.app.server.on('request', (req: IncomingMessage) => served.push(req.url ?? ''));
  return { c, rounds, served };
}

/** The digits at `indices` in Scribble's own format (examples/embed-site/main.ts): the class and its 784 gray values. */
function scribbleDigits(train: StoredSplit, indices: readonly number[]): { digit: number; pixels: number[] }[] {
  const values = train.values as Uint8Array;
  return indices.map((i) => ({ digit: train.labels[i]!, pixels: Array.from(values.subarray(i * PIXELS, (i + 1) * PIXELS)) }));
}

/** What the page fetched from `origin` over HTTP (its WebSocket is not a request here). */
function requestsTo(page: Page, origin: string): string[] {
  const urls: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).origin === origin) urls.push(r.url());
  });
  return urls;
}

test('a site embedding the SDK trains on its own digits with two Node clients; the coordinator serves no data', async ({ page }, info) => {
  const { loadTaskData, connectNodeClient } = await import('@hushfl/node');
  const train = loadTaskData('mnist').train;
  const site = await serveSite({ '/digits.json': JSON.stringify(scribbleDigits(train, firstOfEachClass(train, 10))) });
  const { c, rounds, served } = await coordinator({ rounds: 2, minClients: 3, selection: { clientsPerRound: 3 } }, [site.url]);
  const own = (from: number) => ownShard(train, 8, from);
  const nodes = [await connectNodeClient({ url: c.url, localShards: own(20_000) }), await connectNodeClient({ url: c.url, localShards: own(30_000) })];
  const toCoordinator = requestsTo(page, c.url);
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  try {
    await page.goto(`${site.url}/?coordinator=${encodeURIComponent(c.url)}&backend=wasm`);
    await expect(page.getByTestId('digit-count')).toHaveText('(100, on this device)');
    await expect(page.getByTestId('connection')).toHaveText('connected', { timeout: 30_000 });
    await expect(page.getByTestId('data')).toHaveText('your digits (100 examples), on this device', { timeout: 30_000 });
    // The SDK's Workers run on the site's own origin, cross-origin isolated: tfjs-wasm's threaded build.
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);

    await expect(page.getByTestId('rounds')).toHaveText('2', { timeout: 120_000 });
    await expect(page.getByTestId('message')).toContainText('Round 2 completed with this tab’s update in the sum');
    await expect(page.getByTestId('error')).toBeHidden();
    await expect(page.getByTestId('local')).toHaveText(/^loss \d+\.\d{3}, accuracy \d+\.\d % on \d+$/);
    expect(rounds.filter((r) => r.status === 'completed' && r.contributors === 3)).toHaveLength(2);
    // No training data from the coordinator, and nothing to it over HTTP: the masked SecAgg input went over the socket.
    expect(served.filter((u) => u.startsWith('/api/tasks/'))).toEqual([]);
    expect(toCoordinator).toEqual([]);
    expect(sockets.some((u) => u.startsWith(c.url.replace(/^http/, 'ws')))).toBe(true);
    await page.screenshot({ path: info.outputPath('embed-site.png'), fullPage: true });
  } finally {
    for (const n of nodes) await n.close();
    await c.close();
    await site.close();
  }
});

test('digits that do not fit are refused naming the digit, before connecting; a coordinator that does not allow the site refuses it', async ({ page }) => {
  const { loadTaskData } = await import('@hushfl/node');
  const train = loadTaskData('mnist').train;
  const digits = scribbleDigits(train, firstOfEachClass(train, 1));
  // A 32×32 scan among 28×28 ones: Scribble calls them all 28×28, so the count of values gives it away.
  digits[3] = { digit: 3, pixels: new Array<number>(32 * 32).fill(200) };
  const bad = await serveSite({ '/digits.json': JSON.stringify(digits) });
  const good = await serveSite({ '/digits.json': JSON.stringify(scribbleDigits(train, firstOfEachClass(train, 2))) });
  // It allows neither site.
  const { c, served } = await coordinator({ rounds: 1, minClients: 3 }, []);
  try {
    const before = served.length;
    await page.goto(`${bad.url}/?coordinator=${encodeURIComponent(c.url)}&backend=cpu`);
    await expect(page.getByTestId('error')).toHaveText(
      "this site's examples cannot train: images[3]: 1024 values for 28×28 pixels: give 1 (gray), 3 (RGB) or 4 (RGBA) values a pixel, or say how many in `channels`",
      { timeout: 30_000 },
    );
    await expect(page.getByTestId('connection')).toHaveText('stopped');
    expect(served.length).toBe(before);

    await page.goto(`${good.url}/?coordinator=${encodeURIComponent(c.url)}&backend=cpu`);
    await expect(page.getByTestId('error')).toContainText(`The coordinator refused this client: origin ${good.url} is not allowed`, { timeout: 30_000 });
    await expect(page.getByTestId('connection')).toHaveText('stopped');
  } finally {
    await c.close();
    await bad.close();
    await good.close();
  }
});
