/**
 * Playwright runs the browser suites in e2e/ on Debian's Chromium (never a downloaded browser: nothing
 * can be downloaded here). The flags keep Chromium from calling out to the network at start-up. The shared
 * coordinator (`hushfl start`, fresh data directory) is the webServer; suites that need their own start one
 * in-process.
 */
import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const chromiumPath = process.env.HUSHFL_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumArgs = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--no-sandbox',
];
export const SHARED_PORT = Number(process.env.HUSHFL_E2E_PORT ?? 4370);
export const SHARED_TOKEN = 'e2e-shared-operator-token-0123456789';

export default defineConfig({
  testDir: './e2e',
  testMatch: '**/*.spec.ts',
  timeout: 180_000,
  // The whole browser suite must stay under 10 minutes (issue 6); today it takes about one.
  globalTimeout: 600_000,
  fullyParallel: false,
  workers: 1,
  reporter: 'list',
  outputDir: 'test-results',
  globalSetup: './e2e/support/globalSetup.ts',
  use: {
    browserName: 'chromium',
    headless: true,
    baseURL: `http://127.0.0.1:${SHARED_PORT}`,
    launchOptions: { executablePath: chromiumPath, args: chromiumArgs },
    trace: 'off',
  },
  webServer: {
    command: `node apps/cli/bin/hushfl.mjs start --port ${SHARED_PORT} --data ${mkdtempSync(join(tmpdir(), 'hushfl-e2e-shared-'))} --operator-token ${SHARED_TOKEN} --log-level warn`,
    url: `http://127.0.0.1:${SHARED_PORT}/api/health`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
