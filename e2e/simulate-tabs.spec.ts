/** `pnpm simulate:tabs` — the command the README offers — opens tabs, runs rounds and prints a line per round. */
import { expect, test } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('simulate:tabs runs a round with three tabs and prints its summary', () => {
  const script = fileURLToPath(new URL('./simulateTabs.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--tabs', '3', '--rounds', '1', '--backend', 'wasm'], {
    encoding: 'utf8',
    timeout: 150_000,
  });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/opening 3 Chromium tabs/);
  expect(r.stdout).toMatch(/round 1: accuracy \d+\.\d %, ε ∞ \(no noise\), 3\/3 contributions/);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', script, '--tabs', '2'], { encoding: 'utf8' });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/--tabs must be an integer in \[3, 64\]/);
});
