/**
 * A tab reloaded in the middle of a run rejoins as the same client (its identity is in IndexedDB) and goes on
 * with the run: it is in the sum of the rounds after the reload.
 */
import { expect, test } from '@playwright/test';
import { startCoordinator } from './support/coordinator.ts';

test('a tab reloaded mid-run rejoins as the same client and keeps contributing', async ({ browser }) => {
  const { c, rounds } = await startCoordinator({
    rounds: 3,
    minClients: 2,
    selection: { clientsPerRound: 3 },
    training: { epochs: 3, batchSize: 8, learningRate: 0.1 },
  });
  // Rounds of three tiny clients take about a second: react to the first completion as it happens (a poll
  // can sleep through rounds 1 and 2 and find the run over).
  const firstRoundDone = new Promise<void>((resolve) => {
    c.manager.on('event', (e: { type: string; status?: string }) => {
      if (e.type === 'round' && e.status === 'completed') resolve();
    });
  });
  const tabs = [];
  try {
    for (let i = 0; i < 3; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${c.url}/?backend=wasm`);
      await expect(page.getByTestId('client-id')).toHaveText(/^[A-Za-z0-9_-]{16}$/, { timeout: 60_000 });
      tabs.push({ context, page, id: (await page.getByTestId('client-id').textContent())! });
    }
    const x = tabs[0]!;
    // Round 2 in progress: reload the tab.
    await firstRoundDone;
    expect(rounds.filter((r) => r.status === 'completed')).toHaveLength(1);
    await expect(x.page.getByTestId('stage')).toHaveText(/Training|Encoding|AdvertiseKeys|ShareKeys|MaskedInputCollection/, { timeout: 60_000 });
    await x.page.reload();
    await expect(x.page.getByTestId('client-id')).toHaveText(x.id, { timeout: 60_000 });
    await expect(x.page.getByTestId('notice')).toContainText(/Rejoined as the same client|Selected for round|Round/);
    await c.manager.whenIdle();
    const runId = c.sqlite!.runs()[0]!.id;
    const last = c.sqlite!.participants(runId, 2).filter((p) => p.client_id === x.id);
    expect(last.at(-1)).toMatchObject({ status: 'finished' });
    expect(rounds.filter((r) => r.status === 'completed')).toHaveLength(3);
  } finally {
    for (const t of tabs) await t.context.close();
    await c.close();
  }
});
