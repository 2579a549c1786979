/**
 * Data that lives on the device (issue 14 §2): on a `data: local` run the coordinator serves no training data;
 * the page's "Use my own data" reads a folder of images the person picks (subfolders named by the class), in
 * a Worker, previews it, stores it in IndexedDB, and the tab completes rounds on it together with Node clients
 * that bring their own shards. A folder with a wrong-sized image or an unknown class is refused with the file
 * named; a reload finds the stored examples without a new pick.
 */
import { expect, type Page, test } from '@playwright/test';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MNIST_TASK, type StoredSplit } from '@hushfl/tasks';
import { startCoordinator } from './support/coordinator.ts';
import { firstOfEachClass, ownShard } from './support/digits.ts';
import { encodePng } from './support/png.ts';

const SIDE = 28;
const PIXELS = SIDE * SIDE;

/** Writes the digits at `indices` as PNGs into root/name/<class>/<index>.png; returns the folder. */
function writeDigits(root: string, name: string, train: StoredSplit, indices: readonly number[]): string {
  const dir = join(root, name);
  const values = train.values as Uint8Array;
  for (const i of indices) {
    const label = MNIST_TASK.classes[train.labels[i]!]!;
    mkdirSync(join(dir, label), { recursive: true });
    writeFileSync(join(dir, label, `${i}.png`), encodePng(SIDE, SIDE, 1, values.subarray(i * PIXELS, (i + 1) * PIXELS)));
  }
  return dir;
}

/** The requests the coordinator's HTTP server receives (every route, before Fastify routes them). */
function recordRequests(server: { on(event: 'request', listener: (req: IncomingMessage) => void): unknown }): string[] {
  const urls: string[] = [];
  server.on('request', (req) => urls.push(req.url ?? ''));
  return urls;
}

async function storedLocalCount(page: Page, task: string): Promise<number | null> {
  return page.evaluate(async (key) => {
    const req = indexedDB.open('hushfl');
    const db = await new Promise<IDBDatabase>((resolve) => (req.onsuccess = () => resolve(req.result)));
    if (!db.objectStoreNames.contains('local')) return null;
    const get = db.transaction('local').objectStore('local').get(key);
    return new Promise<number | null>((resolve) => (get.onsuccess = () => resolve(get.result?.summary.count ?? null)));
  }, task);
}

test('a tab trains on a folder of images picked through the page, the coordinator serving no data', async ({ page }, info) => {
  const { loadTaskData, connectNodeClient } = await import('@hushfl/node');
  const train = loadTaskData('mnist').train;
  // Training digits (the coordinator evaluates on the test split): 10 of each class for the tab; the Node
  // clients' own come from further on.
  const mine = firstOfEachClass(train, 10);
  const folder = writeDigits(mkdtempSync(join(tmpdir(), 'hushfl-local-')), 'digits', train, mine);
  const { c, rounds } = await startCoordinator({
    rounds: 2,
    minClients: 3,
    selection: { clientsPerRound: 3 },
    data: 'local',
    task: { name: 'mnist', model: { kind: 'mlp', hidden: [] } },
    training: { epochs: 1, batchSize: 16, learningRate: 0.1 },
  });
  const served = recordRequests(c.app.server);
  const pageRequests: string[] = [];
  page.on('request', (r) => pageRequests.push(new URL(r.url()).pathname));
  const own = (from: number) => ownShard(train, 8, from);
  const nodes = [await connectNodeClient({ url: c.url, localShards: own(20_000) }), await connectNodeClient({ url: c.url, localShards: own(30_000) })];
  try {
    await page.goto(`${c.url}/?backend=wasm`);
    await expect(page.getByTestId('local-data-status')).toHaveText(/Waiting for your examples/, { timeout: 30_000 });
    await expect(page.getByTestId('local-data-privacy')).toContainText('never leave this device');
    await expect(page.getByTestId('local-data-expectation')).toContainText('28×28 pixels');
    await expect(page.getByTestId('data-source')).toHaveText('your own examples, kept on this device');
    // Two Node clients ready, the tab not yet: no round starts before it has data.
    expect(rounds).toHaveLength(0);

    await page.getByTestId('local-data-folder').setInputFiles(folder);
    await expect(page.getByTestId('local-data-count')).toHaveText('100 examples will train.', { timeout: 30_000 });
    const histogram = page.getByTestId('local-data-class');
    await expect(histogram).toHaveCount(10);
    for (const name of MNIST_TASK.classes) await expect(histogram.and(page.locator(`[data-class="${name}"]`))).toContainText(/10$/);
    // A few thumbnails, drawn from the stored pixels (not blank).
    const thumbs = page.getByTestId('local-data-preview').locator('canvas');
    await expect(thumbs).toHaveCount(8);
    const lit = await thumbs.first().evaluate((el) => {
      const canvas = el as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i]! > 128) n++;
      return n;
    });
    expect(lit).toBeGreaterThan(20);
    expect(await storedLocalCount(page, 'mnist')).toBe(100);

    await expect(page.getByTestId('notice')).toContainText('Round 2 completed with this tab’s update in the sum', { timeout: 120_000 });
    // Federated evaluation: the tab shows its own held-out figure (a tenth of its 100 digits); only sums leave it.
    await expect(page.getByTestId('held-out')).toHaveText(/^\d+\.\d % on 10 examples \(round \d\)$/);
    expect(rounds.filter((r) => r.status === 'completed' && r.contributors === 3)).toHaveLength(2);
    // The training Worker holds the 100 (and keeps a few out of training, for the run's federated evaluation).
    await expect(page.locator('dt:text-is("Local examples") + dd')).toHaveText('100');
    await expect(page.getByTestId('local')).toContainText(/ on \d+ examples$/);
    // The coordinator saw the page and its assets, and not one request for training data.
    expect(served.some((u) => u === '/' || u.startsWith('/?'))).toBe(true);
    expect(served.filter((u) => u.startsWith('/api/tasks/'))).toEqual([]);
    expect(pageRequests.filter((u) => u.startsWith('/api/tasks/'))).toEqual([]);
    await page.screenshot({ path: info.outputPath('local-data.png'), fullPage: true });
  } finally {
    for (const n of nodes) await n.close();
    await c.close();
  }
});

test('a folder with a wrong-sized image or an unknown class is refused naming the file; a reload finds stored examples', async ({ page }) => {
  const { loadTaskData } = await import('@hushfl/node');
  const train = loadTaskData('mnist').train;
  const root = mkdtempSync(join(tmpdir(), 'hushfl-local-bad-'));
  const values = train.values as Uint8Array;
  // A 32×32 image among good ones.
  const sized = writeDigits(root, 'sized', train, firstOfEachClass(train, 1));
  writeFileSync(join(sized, '3', 'big.png'), encodePng(32, 32, 1, new Uint8Array(32 * 32).fill(200)));
  // A folder named by no class.
  const unknown = join(root, 'unknown');
  mkdirSync(join(unknown, 'seven'), { recursive: true });
  writeFileSync(join(unknown, 'seven', 'a.png'), encodePng(SIDE, SIDE, 1, values.subarray(0, PIXELS)));
  // Good images, a note beside them (skipped) and a hidden file (ignored).
  const good = writeDigits(root, 'good', train, firstOfEachClass(train, 2));
  writeFileSync(join(good, 'notes.txt'), 'where these digits came from');
  writeFileSync(join(good, '.DS_Store'), 'x');

  const { c } = await startCoordinator({ rounds: 1, minClients: 3, data: 'local', task: { name: 'mnist', model: { kind: 'mlp', hidden: [] } } });
  try {
    await page.goto(`${c.url}/?backend=wasm`);
    const folder = page.getByTestId('local-data-folder');
    await expect(page.getByTestId('local-data-status')).toHaveText(/Waiting for your examples/, { timeout: 30_000 });

    await folder.setInputFiles(sized);
    await expect(page.getByTestId('local-data-error')).toHaveText(
      'sized/3/big.png: the image is 32×32 pixels; the mnist task needs 28×28 (width×height): resize it or leave it out',
      { timeout: 30_000 },
    );
    await expect(page.getByTestId('local-data-preview')).toHaveCount(0);

    await folder.setInputFiles(unknown);
    await expect(page.getByTestId('local-data-error')).toHaveText(
      "unknown/seven/a.png: 'seven' is not one of the mnist task's classes: '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'",
      { timeout: 30_000 },
    );
    expect(await storedLocalCount(page, 'mnist')).toBe(null);

    await folder.setInputFiles(good);
    await expect(page.getByTestId('local-data-count')).toHaveText('20 examples will train.', { timeout: 30_000 });
    await expect(page.getByTestId('local-data-error')).toHaveCount(0);
    await expect(page.getByTestId('local-data-skipped')).toHaveText('Skipped 1 file that is not an example: good/notes.txt.');

    await page.reload();
    await expect(page.getByTestId('local-data-status')).toHaveText(/stored in this browser/, { timeout: 30_000 });
    await expect(page.getByTestId('local-data-count')).toHaveText('20 examples will train.');
    // The join went on with them: the training Worker holds them.
    const held = page.locator('dt:text-is("Local examples") + dd');
    await expect(held).toHaveText('20');

    // Image files and a labels CSV, through the files input: they replace the stored examples.
    const picked = join(root, 'picked');
    mkdirSync(picked);
    const three = [0, 1, 2].map((i) => ({ name: `digit-${i}.png`, label: MNIST_TASK.classes[train.labels[i]!]! }));
    for (const [i, { name }] of three.entries()) writeFileSync(join(picked, name), encodePng(SIDE, SIDE, 1, values.subarray(i * PIXELS, (i + 1) * PIXELS)));
    writeFileSync(join(picked, 'labels.csv'), `filename,label\n${three.map((t) => `${t.name},${t.label}`).join('\n')}\n`);
    await page.getByTestId('local-data-files').setInputFiles([...three.map((t) => join(picked, t.name)), join(picked, 'labels.csv')]);
    await expect(page.getByTestId('local-data-count')).toHaveText('3 examples will train.', { timeout: 30_000 });
    await expect(page.getByTestId('local-data-preview').locator('figcaption')).toHaveText(three.map((t) => t.label));
    expect(await storedLocalCount(page, 'mnist')).toBe(3);
    // The page rejoined to load them.
    await expect(held).toHaveText('3', { timeout: 30_000 });
  } finally {
    await c.close();
  }
});

test('with `data: demo` the page says its data is a demo served by the coordinator, and offers no picker', async ({ page }) => {
  const { c } = await startCoordinator({ rounds: 1, minClients: 3 });
  try {
    await page.goto(c.url);
    await expect(page.getByTestId('data-source')).toHaveText(
      'a demo: shards of the built-in mnist dataset, served by the coordinator (it knows what each client trains on)',
      { timeout: 30_000 },
    );
    await expect(page.getByTestId('local-data')).toHaveCount(0);
  } finally {
    await c.close();
  }
});
