/**
 * The whole system with many real browser tabs: the operator starts a run from the dashboard, six tabs — each
 * in its own browser context, so its own IndexedDB — run three rounds of MNIST with DDG at 16 bits. In round 2
 * one tab is closed before it sent its masked input and another right after: the round completes through
 * dropout recovery. Accuracy ends well above chance, and the dashboard shows the rounds, who dropped where,
 * and the ε curve.
 */
import { expect, test, type Browser, type Page } from '@playwright/test';
import { OperatorClient } from '@hushfl/operator-client';
import { SHARED_TOKEN } from '../playwright.config.ts';
import { openDashboard } from './support/dashboard.ts';

// maxColluders 0 (stated, not silent): with 6 parties the complete graph needs t = ⌊(k + C)/2⌋ + 1, and round 2
// loses two tabs (one before, one after its masked input): 3 signers per secret, enough for t = 3 (C = 0) but not
// t = 4 (C = 1). The collusion bound itself is tested in packages/secagg.
const CONFIG = `name: multi-tab
task: { model: { kind: mlp, hidden: [64] }, partition: { kind: iid }, shards: 400 }
rounds: 3
selection: { clientsPerRound: 6 }
minClients: 4
training: { epochs: 3, batchSize: 16, learningRate: 0.1 }
deadlines: { training: 120, shareKeys: 30, maskedInput: 30, consistencyCheck: 30, unmasking: 30 }
ddg: { bits: 16, clip: 1.0, gamma: 2.0e-4, localStddev: 0.004, delta: 1.0e-5 }
secagg: { maxColluders: 0 }
`;

const operator = (baseURL: string) => new OperatorClient({ base: baseURL, token: SHARED_TOKEN, fetch });

/** Socket.IO packet types (socket.io-parser). */
const EVENT = 2;
const ACK = 3;
const BINARY_EVENT = 5;

/** The Socket.IO packet in an Engine.IO text frame ("4…", a message): type, binary attachments, ack id, event name. */
function socketIoPacket(frame: string): { type: number; attachments: number; id: number | null; event: string | null } | null {
  const m = /^4(\d)(?:(\d+)-)?(?:\/[^,]*,)?(\d*)(?:\["([^"]*)")?/.exec(frame);
  if (!m) return null;
  return { type: Number(m[1]), attachments: Number(m[2] ?? 0), id: m[3] ? Number(m[3]) : null, event: m[4] ?? null };
}

/**
 * A tab that stops answering after its masked input, as a device gone silent mid-round would: its websocket
 * runs through this proxy, which, once armed, drops every coordinator → page `secagg` event (with its binary
 * attachments) from the moment the page's masked-input goes up; pings and the other events pass, so the
 * connection stays up. Dropping starts at the upload, not at its ack: the coordinator may send `survivors`
 * before it acks the last masked input it waited for. `stalled` turns true once that ack said ok.
 */
class MaskedInputStall {
  private armed = false;
  private maskedInputAckId: number | null = null;
  stalled = false;

  arm(): void {
    this.armed = true;
  }

  route(page: Page): Promise<void> {
    return page.routeWebSocket(/\/socket\.io\//, (ws) => {
      const server = ws.connectToServer();
      let skipAttachments = 0;
      ws.onMessage((frame) => {
        if (this.armed && this.maskedInputAckId === null && typeof frame === 'string') {
          const p = socketIoPacket(frame);
          if (p?.type === BINARY_EVENT && p.event === 'secagg' && p.id !== null && frame.includes('masked-input')) this.maskedInputAckId = p.id;
        }
        server.send(frame);
      });
      server.onMessage((frame) => {
        if (typeof frame !== 'string') {
          if (skipAttachments > 0) skipAttachments--;
          else ws.send(frame);
          return;
        }
        const p = this.maskedInputAckId === null ? null : socketIoPacket(frame);
        if (p?.type === ACK && p.id === this.maskedInputAckId && frame.includes('"ok":true')) this.stalled = true;
        if ((p?.type === EVENT || p?.type === BINARY_EVENT) && p.event === 'secagg') {
          skipAttachments = p.attachments;
          return;
        }
        ws.send(frame);
      });
    });
  }
}

/** A tab in its own browser context; `beforeLoad` can route the page's traffic before it opens. */
async function openTab(
  browser: Browser,
  baseURL: string,
  beforeLoad?: (page: Page) => Promise<void>,
): Promise<{ page: Page; id: string; close: () => Promise<void> }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await beforeLoad?.(page);
  page.on('console', (m) => {
    if (process.env.E2E_DEBUG) console.log('TAB', m.type(), m.text().slice(0, 200));
  });
  page.on('pageerror', (e) => {
    if (process.env.E2E_DEBUG) console.log('TABERR', e.message);
  });
  await page.goto(`${baseURL}/?backend=wasm`);
  await expect(page.getByTestId('client-id')).toHaveText(/^[A-Za-z0-9_-]{16}$/, { timeout: 60_000 });
  return { page, id: (await page.getByTestId('client-id').textContent())!, close: () => context.close() };
}

test('six tabs, three DDG rounds, two tabs closed mid-round; the dashboard shows it all', async ({ browser, baseURL }, info) => {
  // The operator starts the run from the dashboard.
  const dashCtx = await browser.newContext({ acceptDownloads: true });
  const dash = await dashCtx.newPage();
  await openDashboard(dash, baseURL!, SHARED_TOKEN);
  await dash.getByTestId('config').fill(CONFIG);
  await dash.getByTestId('start').click();
  await expect(dash.getByTestId('run-id')).toHaveText(/^run-/);
  const runId = (await dash.getByTestId('run-id').textContent())!;
  const api = operator(baseURL!);

  // Tab 1 will stop answering after its masked input in round 2.
  const stall = new MaskedInputStall();
  const tabs = [];
  for (let i = 0; i < 6; i++) tabs.push(await openTab(browser, baseURL!, i === 1 ? (page) => stall.route(page) : undefined));
  await expect(dash.getByTestId('clients')).toHaveText('6');

  // Round 1 runs with everyone; as soon as round 2 runs (polled often: a round takes only seconds), close tab 0
  // at once (before its masked input) and tab 1 right after its masked input was taken.
  await expect
    .poll(async () => (await api.rounds(runId)).some((r) => r.round === 1 && r.state === 'running'), {
      timeout: 120_000,
      intervals: [50],
    })
    .toBe(true);
  expect((await api.rounds(runId)).filter((r) => r.state === 'completed')).toHaveLength(1);
  const [early, late] = [tabs[0]!, tabs[1]!];
  stall.arm();
  await early.close();
  await expect.poll(() => stall.stalled, { timeout: 120_000 }).toBe(true);
  await expect(late.page.getByTestId('bar-upload')).toContainText('3 / 5 SecAgg messages');
  await late.close();
  // Two fresh tabs take their places for round 3.
  tabs.push(await openTab(browser, baseURL!), await openTab(browser, baseURL!));

  await expect.poll(async () => (await api.run(runId)).state, { timeout: 180_000 }).toBe('completed');
  const rounds = (await api.rounds(runId)).filter((r) => r.state === 'completed');
  expect(rounds).toHaveLength(3);
  const r2 = rounds.find((r) => r.round === 1)!;
  expect(['advertise-keys', 'share-keys', 'masked-input']).toContain(r2.dropped[early.id]);
  expect(['consistency-check', 'unmasking']).toContain(r2.dropped[late.id]);
  expect(r2.contributions).toBe(5); // the tab closed after its masked input is in the sum
  expect(r2.participants.find((p) => p.client_id === late.id)?.status).toBe('finished');
  expect(rounds.at(-1)!.accuracy).toBeGreaterThan(0.5);
  for (let i = 1; i < 3; i++) expect(rounds[i]!.epsilon!).toBeGreaterThan(rounds[i - 1]!.epsilon!);

  // The dashboard shows the rounds, the dropped clients and the ε curve.
  await expect(dash.getByTestId('run-state')).toHaveText('completed', { timeout: 30_000 });
  await expect(dash.getByTestId('round-row')).toHaveCount(3);
  await expect(dash.getByTestId('dropped').nth(1)).toContainText(`${early.id.slice(0, 6)}…`);
  await expect(dash.getByTestId('dropped').nth(1)).toContainText(`${late.id.slice(0, 6)}…`);
  await expect(dash.getByTestId('chart-epsilon')).toHaveAttribute('data-points', '3');
  await expect(dash.getByTestId('chart-accuracy')).toHaveAttribute('data-points', '3');
  await expect(dash.getByTestId('epsilon')).toContainText(rounds.at(-1)!.epsilon!.toFixed(3));
  await dash.getByTestId('round-row').nth(1).click();
  await expect(dash.getByTestId('round-detail')).toContainText(late.id);
  const download = dash.waitForEvent('download');
  await dash.getByTestId('download-metrics').click();
  expect((await download).suggestedFilename()).toBe('server_metrics.json');
  await expect(dash.getByTestId('join-qr').locator('svg')).toBeVisible();

  await tabs[2]!.page.screenshot({ path: info.outputPath('client-page.png'), fullPage: true });
  await dash.screenshot({ path: info.outputPath('dashboard.png'), fullPage: true });
  await info.attach('dashboard', { path: info.outputPath('dashboard.png'), contentType: 'image/png' });
  await info.attach('client page', { path: info.outputPath('client-page.png'), contentType: 'image/png' });
  for (const t of tabs.slice(2)) await t.close();
  await dashCtx.close();
});
