/**
 * A custom model from the dashboard (issue 14 §4): the operator picks a Keras-converted model.json, sees its
 * layers and parameters, starts the run with it, and a model with unsupported layers is refused naming them.
 */
import { expect, test } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { OPERATOR_TOKEN, startCoordinator } from './support/coordinator.ts';
import { openDashboard } from './support/dashboard.ts';

const fixture = (name: string) => fileURLToPath(import.meta.resolve(`@hushfl/tasks/fixtures/${name}`));

const CONFIG = `name: keras-upload
task: { name: mnist, shards: 200 }
rounds: 5
selection: { clientsPerRound: 3 }
minClients: 3
ddg: { bits: 16, noise: false }
secagg: { maxColluders: 1 }
`;

test('the dashboard takes a model.json upload into the run config; unsupported layers are named', async ({ page }) => {
  const { c } = await startCoordinator();
  try {
    await openDashboard(page, c.url, OPERATOR_TOKEN);
    await page.getByTestId('config').fill(CONFIG);

    // Unsupported layers: the coordinator refuses the run and names each layer.
    await page.getByTestId('model-file').setInputFiles(fixture('keras-unsupported-layers.model.json'));
    await expect(page.getByTestId('model-summary')).toBeVisible();
    await page.getByTestId('start').click();
    for (const layer of ['BatchNormalization', 'LSTM', 'Dropout']) await expect(page.getByTestId('error').first()).toContainText(`(${layer}) is not supported`);
    await expect(page.getByTestId('run-id')).toHaveText('none');

    // The Keras 3 CNN: its size is shown, and the run starts with it as task.model.
    await page.getByTestId('model-file').setInputFiles(fixture('keras3-mnist-cnn-functional.model.json'));
    await expect(page.getByTestId('model-summary')).toContainText('37,434');
    await page.getByTestId('start').click();
    await expect(page.getByTestId('run-id')).toHaveText(/^run-/);
    const runId = (await page.getByTestId('run-id').textContent())!;
    const row = c.sqlite!.run(runId)!;
    expect(row.dim).toBe(37_434);
    expect(JSON.parse(row.config).task.model.kind).toBe('layers');
  } finally {
    await c.close();
  }
});
