/**
 * Strategies from the dashboard (issue 15): the operator picks FedAdam, FedProx and adaptive clipping in the
 * start-run form, the config text changes to say so, the run starts with them, and while Node clients train the
 * Strategy card shows the optimizer, μ, the clip each round used (and its chart) and the noise budget's split.
 * Before it starts, the editor's config gets its utility forecast (issue 16 §3).
 */
import { expect, test } from '@playwright/test';
import { connectNodeClient, type NodeClient } from '@hushfl/node';
import { OPERATOR_TOKEN, startCoordinator } from './support/coordinator.ts';
import { openDashboard } from './support/dashboard.ts';

const CONFIG = `name: strategies
task: { model: { kind: mlp, hidden: [] }, partition: { kind: iid }, shards: 100 }
rounds: 3
selection: { clientsPerRound: 4 }
minClients: 4
training: { epochs: 1, batchSize: 16, learningRate: 0.1 }
ddg: { bits: 20, clip: 0.5, epsilon: 20, delta: 1.0e-5 }
secagg: { maxColluders: 1 }
`;

test('FedAdam, FedProx and adaptive clipping picked on the dashboard run, with the clip and the noise split shown', async ({ page }, info) => {
  const { c } = await startCoordinator();
  const clients: NodeClient[] = [];
  try {
    await openDashboard(page, c.url, OPERATOR_TOKEN);
    // The example config's forecast: ten-odd parties at ε = 8 drown a 50k-weight model (issue 16 §3).
    await expect(page.getByTestId('forecast')).toHaveAttribute('data-verdict', 'no-learning', { timeout: 20_000 });
    await expect(page.getByTestId('forecast-message')).toContainText(
      /with n_min = 4 and ε = 8 over 10 rounds the noise norm is \d+× the clip: expect no learning/,
    );
    await page.getByTestId('config').fill('rounds: 0\n');
    await expect(page.getByTestId('forecast-error')).toContainText('rounds');
    await page.getByTestId('config').fill(CONFIG);
    await expect(page.getByTestId('forecast-message')).toContainText(/^with n_min = 4 and ε = 20 over 3 rounds the noise norm is [0-9.]+× the clip/, {
      timeout: 20_000,
    });

    await page.getByTestId('server-optimizer').selectOption('fedadam');
    // Reddi et al.'s η for the adaptive optimizers comes with the choice.
    await expect(page.getByTestId('server-lr')).toHaveValue('0.01');
    await page.getByTestId('proximal-mu').fill('0.05');
    await page.getByTestId('adaptive-clip').check();
    await page.getByTestId('adaptive-quantile').fill('0.6');
    const text = await page.getByTestId('config').inputValue();
    expect(text).toMatch(/optimizer: fedadam/);
    expect(text).toMatch(/proximalMu: 0\.05/);
    expect(text).toMatch(/targetQuantile: 0\.6/);
    // Four parties a round are too few for the paper's σ_b = m/20 (the count alone would spend most of ε):
    // the forecast says so, and the operator sets the count's noise.
    await expect(page.getByTestId('forecast-error')).toContainText('too few clients per round (4)', { timeout: 20_000 });
    await page.getByTestId('config').fill(text.replace('targetQuantile: 0.6', 'targetQuantile: 0.6, countNoise: 1'));
    await expect(page.getByTestId('forecast-message')).toContainText(/^with n_min = 4 and ε = 20 over 3 rounds/, { timeout: 20_000 });

    await page.getByTestId('start').click();
    // Planning calibrates the update's noise twice (with and without the count, for the split).
    await expect(page.getByTestId('run-id')).toHaveText(/^run-/, { timeout: 20_000 });
    const runId = (await page.getByTestId('run-id').textContent())!;
    const stored = JSON.parse(c.sqlite!.run(runId)!.config);
    expect(stored.server).toMatchObject({ optimizer: 'fedadam', learningRate: 0.01 });
    expect(stored.training.proximalMu).toBe(0.05);
    expect(stored.ddg.adaptiveClip).toMatchObject({ targetQuantile: 0.6 });

    await expect(page.getByTestId('strategy-optimizer')).toHaveText('fedadam (η = 0.01, β1 = 0.9, β2 = 0.99, τ = 1.00e-3)');
    await expect(page.getByTestId('strategy-proximal')).toHaveText('0.05');
    await expect(page.getByTestId('noise-split')).toContainText(
      /update σ = [0-9.]+e-\d+ \([0-9.]+e-\d+ with a fixed clip\); count σ_b = [0-9.]+ contributions; alone, the update would spend ε = [0-9.]+ and the count ε = [0-9.]+/,
    );

    for (let i = 0; i < 4; i++) clients.push(await connectNodeClient({ url: c.url }));
    await expect.poll(() => c.sqlite!.run(runId)!.state, { timeout: 120_000 }).toBe('completed');
    const rows = c.sqlite!.rounds(runId).filter((r) => r.state === 'completed');
    expect(rows).toHaveLength(3);
    const last = rows.at(-1)!;
    await expect(page.getByTestId('strategy-clip')).toContainText(`the 0.6 quantile of update norms (η_C = 0.2)`);
    await expect(page.getByTestId('strategy-clip')).toContainText(`round 3: C = ${Number(last.clip!.toPrecision(3))}`);
    await expect(page.getByTestId('chart-clip')).toBeVisible();
    await page.screenshot({ path: info.outputPath('dashboard-strategy.png'), fullPage: true });
  } finally {
    for (const cl of clients) await cl.close();
    await c.close();
  }
});
