/**
 * The demo a newcomer sees (issue 16 §2): a tab joins a coordinator whose run draws from a population of
 * simulated devices (Node clients, as `npm start --demo-devices N` runs them) by Poisson selection. The tab is
 * drawn into rounds, the federation learns, and the page draws the global accuracy curve it contributed to; the
 * dashboard labels the simulated devices.
 */
import { expect, test } from '@playwright/test';
import { connectNodeClient, type NodeClient } from '@hushfl/node';
import { OPERATOR_TOKEN, startCoordinator } from './support/coordinator.ts';
import { openDashboard } from './support/dashboard.ts';

test('a tab drawn from a population of simulated devices sees the federation learn, round by round', async ({ browser }) => {
  const { c, rounds } = await startCoordinator({
    rounds: 6,
    minClients: 4,
    task: { model: { kind: 'mlp', hidden: [] }, shards: 40 },
    // Each online client (16 devices and the tab) is drawn with probability 0.7 a round.
    selection: { sampleRate: 0.7, population: 17, maxShortfall: 0.01 },
    training: { epochs: 2, batchSize: 16, learningRate: 0.1 },
    ddg: { bits: 18, clip: 1, epsilon: 30, delta: 1e-5 },
  });
  const devices: NodeClient[] = [];
  try {
    // The tab first (rounds of this small population take a second or two), then the devices.
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(`${c.url}/?backend=wasm`);
    await expect(tab.getByTestId('notice')).toContainText('waiting to be selected', { timeout: 60_000 });
    for (let i = 0; i < 16; i++) devices.push(await connectNodeClient({ url: c.url, name: `demo-${i}` }));
    c.manager.simulatedDevices = devices.length;

    const dash = await context.newPage();
    await openDashboard(dash, c.url, OPERATOR_TOKEN);
    await expect(dash.getByTestId('clients')).toContainText('(16 simulated devices on the coordinator');

    // The tab is drawn into rounds (p = 0.7 each): its curve grows a point per round it was a party of.
    await expect(tab.getByTestId('curve-point').first()).toBeVisible({ timeout: 120_000 });
    await c.manager.whenIdle();
    const done = rounds.filter((r) => r.status === 'completed');
    expect(done).toHaveLength(6);
    expect(done.at(-1)!.accuracy!).toBeGreaterThan(0.6);
    const points = await tab.getByTestId('curve-point').count();
    expect(points).toBeGreaterThanOrEqual(1);
    await expect(tab.getByTestId('curve-summary')).toContainText(/Global accuracy \d+\.\d % after round \d; this tab was in \d of these rounds' sums/);
    await expect(tab.getByTestId('curve-summary')).toContainText(/client-level ε = \d+\.\d\d/);
  } finally {
    for (const d of devices) await d.close();
    await c.close();
  }
});
