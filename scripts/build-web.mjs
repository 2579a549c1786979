#!/usr/bin/env node
// Builds the web app (client page and dashboard) and the example site that embeds the SDK
// (examples/embed-site) with Vite, each when its sources (its own, the SDK's in platform/browser, the pure
// packages') are newer than its build.
// Usage: node scripts/build-web.mjs [--force]
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'apps', 'web');
const force = process.argv.includes('--force');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('dist')) continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

// Both builds bundle the SDK and the pure packages it imports.
const shared = Math.max(newest(join(root, 'packages')), newest(join(root, 'platform', 'browser')));
const require = createRequire(join(web, 'package.json'));
let vite = null;

/** Builds `dir` (its vite.config.ts) unless dist/index.html is newer than its sources. */
async function buildIfStale(dir, name) {
  const out = join(dir, 'dist', 'index.html');
  if (!force && existsSync(out) && statSync(out).mtimeMs >= Math.max(shared, newest(dir))) return;
  vite ??= await import(require.resolve('vite'));
  process.stderr.write(`[build-web] building ${name} with Vite\n`);
  // Build beside dist and swap it in, so a running coordinator never serves a half-written app.
  const next = join(dir, 'dist-next');
  rmSync(next, { recursive: true, force: true });
  await vite.build({ configFile: join(dir, 'vite.config.ts'), logLevel: 'warn', build: { outDir: next } });
  const old = join(dir, 'dist-old');
  rmSync(old, { recursive: true, force: true });
  if (existsSync(join(dir, 'dist'))) renameSync(join(dir, 'dist'), old);
  renameSync(next, join(dir, 'dist'));
  rmSync(old, { recursive: true, force: true });
}

await buildIfStale(web, 'apps/web');
await buildIfStale(join(root, 'examples', 'embed-site'), 'examples/embed-site');
