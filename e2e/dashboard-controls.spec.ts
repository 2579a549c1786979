/**
 * The operator's controls on the dashboard, on a coordinator of its own with Node clients: a bad config is
 * refused with the coordinator's error shown; a run with Poisson selection and a target ε shows ε spent against
 * the budget, ε against the coordinator (no amplification) and δ's redraw term; Pause holds new rounds,
 * Resume continues, Stop ends the run; the round timeline, the model download and the saved-config picker.
 */
import { expect, test } from '@playwright/test';
import { statSync } from 'node:fs';
import { connectNodeClient, type NodeClient } from '@hushfl/node';
import { OPERATOR_TOKEN, startCoordinator } from './support/coordinator.ts';
import { openDashboard } from './support/dashboard.ts';

const CONFIG = `name: poisson-controls
task: { model: { kind: mlp, hidden: [] }, partition: { kind: iid }, shards: 107 }
rounds: 30
selection: { sampleRate: 0.8, population: 6, maxShortfall: 0.1 }
minClients: 2
training: { epochs: 1, batchSize: 16, learningRate: 0.1 }
deadlines: { training: 60, shareKeys: 20, maskedInput: 20, consistencyCheck: 20, unmasking: 20 }
ddg: { bits: 16, clip: 1.0, epsilon: 1, delta: 1.0e-5 }
secagg: { maxColluders: 1 }
`;

test('pause, resume and stop from the dashboard; Poisson selection shows both ε', async ({ page }) => {
  const { c } = await startCoordinator();
  const clients: NodeClient[] = [];
  try {
    await openDashboard(page, c.url, OPERATOR_TOKEN);

    // The coordinator's validation error reaches the operator, naming the field.
    await page.getByTestId('config').fill('rounds: 0\nminClients: 2\n');
    await page.getByTestId('start').click();
    await expect(page.getByTestId('error').first()).toContainText('rounds');
    await expect(page.getByTestId('run-id')).toHaveText('none');

    await page.getByTestId('config').fill(CONFIG);
    await page.getByTestId('start').click();
    await expect(page.getByTestId('run-id')).toHaveText(/^run-/);
    const runId = (await page.getByTestId('run-id').textContent())!;
    // No client yet: the dashboard says why the run waits.
    await expect(page.getByTestId('waiting-reason')).toContainText('waiting for clients: 0 eligible, a round needs a Poisson draw of at least n_min = 3');
    for (let i = 0; i < 6; i++) clients.push(await connectNodeClient({ url: c.url }));

    const completed = () => c.sqlite!.rounds(runId).filter((r) => r.state === 'completed').length;
    // Live: a completed round reaches the dashboard over its socket well before its 15 s fallback poll.
    await expect.poll(completed, { timeout: 60_000, intervals: [50] }).toBeGreaterThanOrEqual(1);
    await expect(page.locator('[data-testid="round-row"].completed').first()).toBeVisible({ timeout: 5_000 });
    await expect.poll(completed, { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
    // ε for observers against the budget, δ's redraw term, and the larger ε against the coordinator.
    await expect(page.getByTestId('epsilon')).toContainText(/of 1 \(δ = 0\.00001 \+ [0-9.]+e-\d+ for redrawn samples\)/);
    const eps = Number((await page.getByTestId('epsilon').textContent())!.split(' ')[0]);
    const vsCoordinator = Number(await page.getByTestId('epsilon-coordinator').textContent());
    expect(eps).toBeGreaterThan(0);
    expect(vsCoordinator).toBeGreaterThan(eps);

    // The noise and precision in force, and the traffic so far.
    const plan = JSON.parse(c.sqlite!.run(runId)!.ddg) as { params: { bits: number; localStddev: number } };
    await expect(page.getByTestId('bits')).toHaveText('16');
    await expect(page.getByTestId('sigma')).toHaveText(plan.params.localStddev.toExponential(3));
    await expect(page.getByTestId('bytes')).toHaveText(/^[1-9][0-9.]* (KiB|MiB)$/);
    // Per party in the last completed round: up (the masked input packed at 16 bits) and down, as stored.
    const perParty = (await page.getByTestId('bytes-per-party').textContent())!;
    const m = /^([0-9.]+) (KiB|MiB) up, ([0-9.]+) (KiB|MiB) down$/.exec(perParty);
    expect(m, perParty).not.toBeNull();
    const shown = (v: string, unit: string) => Number(v) * (unit === 'MiB' ? 1 << 20 : 1024);
    const stored = c.sqlite!.rounds(runId).filter((r) => r.state === 'completed');
    const last = stored.at(-1)!;
    expect(Math.abs(shown(m![1]!, m![2]!) - last.bytes_up / last.selected)).toBeLessThan(0.06 * (last.bytes_up / last.selected) + 1024);
    expect(Math.abs(shown(m![3]!, m![4]!) - last.bytes_down / last.selected)).toBeLessThan(0.06 * (last.bytes_down / last.selected) + 1024);
    // The SecAgg guarantee in force (never an unstated γ = 0): at most 1 colluder, k and t for the expected n.
    await expect(page.getByTestId('secagg-guarantee')).toHaveText(/^at most 1 client colluding with the coordinator/);
    await expect(page.getByTestId('secagg-params')).toHaveText(/^k = \d+, t = \d+ \(n = 5, complete graph\); abort ≤ /);

    // Pause: the round in flight may finish, then nothing new starts.
    await page.getByTestId('pause').click();
    await expect(page.getByTestId('run-state')).toHaveText('paused');
    await expect.poll(() => c.sqlite!.rounds(runId).some((r) => r.state === 'running'), { timeout: 60_000 }).toBe(false);
    const held = c.sqlite!.rounds(runId).length;
    await page.waitForTimeout(3000);
    expect(c.sqlite!.rounds(runId).length).toBe(held);

    await page.getByTestId('resume').click();
    await expect(page.getByTestId('run-state')).not.toHaveText('paused');
    await expect.poll(completed, { timeout: 60_000 }).toBeGreaterThan(held);

    await page.getByTestId('stop').click();
    await expect(page.getByTestId('run-state')).toHaveText('stopped');
    expect(c.sqlite!.run(runId)!.state).toBe('stopped');
    expect(completed()).toBeLessThan(30);

    // A stopped run resumes from the dashboard, from its last committed round; then it is stopped again.
    const stoppedAt = completed();
    await expect(page.getByTestId('resume')).toBeEnabled();
    await page.getByTestId('resume').click();
    await expect(page.getByTestId('run-state')).not.toHaveText('stopped');
    await expect.poll(completed, { timeout: 60_000 }).toBeGreaterThan(stoppedAt);
    await page.getByTestId('stop').click();
    await expect(page.getByTestId('run-state')).toHaveText('stopped');

    // Each round's timeline has one segment per SecAgg stage, sized by its measured duration.
    const row = page.locator('[data-testid="round-row"].completed').first();
    const timeline = row.locator('.timeline');
    await expect(timeline.locator('span')).toHaveCount(5);
    const title = (await timeline.getAttribute('title'))!;
    for (const stage of ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking'])
      expect(title).toMatch(new RegExp(`${stage}: \\d+ ms`));

    // The latest global model downloads as raw float32 weights, one per parameter of the run's model.
    const download = page.waitForEvent('download');
    await page.getByTestId('download-model').click();
    const file = await (await download).path();
    expect(statSync(file).size).toBe(4 * c.sqlite!.run(runId)!.dim);

    // A past run's configuration can be picked to start another like it.
    await page.getByTestId('config').fill('');
    await page.getByTestId('saved-configs').selectOption(runId);
    await expect(page.getByTestId('config')).toHaveValue(/"name": "poisson-controls"/);
    await expect(page.getByTestId('config')).toHaveValue(/"sampleRate": 0.8/);
  } finally {
    for (const cl of clients) await cl.close();
    await c.close();
  }
});
