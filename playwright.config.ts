/**
 * Playwright runs the browser suites in e2e/ on Debian's Chromium (never a downloaded browser: nothing
 * can be downloaded here). The flags keep Chromium from calling out to the network at start-up.
 */
import { defineConfig } from '@playwright/test';

export const chromiumPath = process.env.HUSHFL_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumArgs = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--no-sandbox',
];

export default defineConfig({
  testDir: './e2e',
  testMatch: '**/*.spec.ts',
  timeout: 120_000,
  fullyParallel: false,
  workers: 1,
  reporter: 'list',
  outputDir: 'test-results',
  globalSetup: './e2e/support/globalSetup.ts',
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: chromiumPath, args: chromiumArgs },
    trace: 'off',
  },
});
