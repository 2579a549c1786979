#!/usr/bin/env node
// Runs every test suite of the workspace and ends with one line: `N passed, N failed` (totals over all
// suites). Suites: the TypeScript type check, the vitest unit/integration tests, and the Playwright browser
// suites in e2e/ (once they exist). Exit code 0 only when nothing failed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const scratch = mkdtempSync(join(tmpdir(), 'hushfl-test-'));
const totals = { passed: 0, failed: 0 };
const summary = [];

function record(suite, passed, failed, note = '') {
  totals.passed += passed;
  totals.failed += failed;
  summary.push(`${suite.padEnd(17)} ${passed} passed, ${failed} failed${note ? ` (${note})` : ''}`);
}

function run(cmd, args, extraEnv = {}) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...extraEnv } });
  return { status: r.status ?? 1, seconds: Math.round((Date.now() - started) / 1000) };
}

/** A suite that is one command: one test, passed when the command exits 0. */
function step(suite, header, cmd, args) {
  process.stderr.write(`\n== ${header} ==\n`);
  const r = run(cmd, args);
  record(suite, r.status === 0 ? 1 : 0, r.status === 0 ? 0 : 1, `${r.seconds}s`);
}

// 1. Type check: the whole workspace under strict TypeScript, then each pure package on its own with neither
// DOM nor Node types, through its project references (tsconfig.packages.json; declarations to .tsbuild/).
step('typecheck', 'typecheck', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']);
step('typecheck (pure)', 'typecheck (pure)', bin('tsc'), ['-b', 'tsconfig.packages.json']);

// 2. Lint and format (Biome) over the whole tree: any diagnostic fails it.
step('lint', 'lint (biome ci)', bin('biome'), ['ci', '.']);

// 3. Import boundaries (scripts/check-boundaries.mjs): any violation fails it.
step('boundaries', 'boundaries', process.execPath, [join(root, 'scripts', 'check-boundaries.mjs')]);

// 4. vitest: unit and integration tests beside the code.
{
  process.stderr.write('\n== vitest ==\n');
  const out = join(scratch, 'vitest.json');
  const r = run(bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`]);
  if (existsSync(out)) {
    const j = JSON.parse(readFileSync(out, 'utf8'));
    // A suite that failed to load has no tests but counts as a failure.
    const brokenFiles = (j.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
    record('vitest', j.numPassedTests, j.numFailedTests + brokenFiles, `${r.seconds}s`);
  } else {
    record('vitest', 0, 1, 'vitest produced no report');
  }
}

// 5. Playwright browser suites (e2e/), against the built web app.
if (existsSync(join(root, 'playwright.config.ts')) && existsSync(join(root, 'e2e')) && existsSync(bin('playwright'))) {
  process.stderr.write('\n== e2e (playwright) ==\n');
  const built = run(process.execPath, [join(root, 'scripts', 'build-web.mjs')]);
  if (built.status !== 0) record('web build', 0, 1, 'vite build failed');
  const out = join(scratch, 'playwright.json');
  const r = run(bin('playwright'), ['test', '--reporter=list,json'], { PLAYWRIGHT_JSON_OUTPUT_NAME: out });
  if (existsSync(out)) {
    const j = JSON.parse(readFileSync(out, 'utf8'));
    const s = j.stats ?? {};
    record('e2e', (s.expected ?? 0) + (s.flaky ?? 0), (s.unexpected ?? 0) + ((j.errors ?? []).length > 0 && !s.expected ? 1 : 0), `${r.seconds}s`);
  } else {
    record('e2e', 0, 1, 'playwright produced no report');
  }
}

rmSync(scratch, { recursive: true, force: true });
process.stdout.write(`\n${summary.join('\n')}\n`);
process.stdout.write(`${totals.passed} passed, ${totals.failed} failed\n`);
process.exit(totals.failed === 0 ? 0 : 1);
