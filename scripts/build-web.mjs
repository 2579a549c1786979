#!/usr/bin/env node
// Builds the web app (client page and dashboard) with Vite when its sources are newer than the build.
// Usage: node scripts/build-web.mjs [--force]
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'apps', 'web');
const out = join(web, 'dist', 'index.html');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('dist')) continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const sources = Math.max(newest(web), newest(join(root, 'packages')));
if (!process.argv.includes('--force') && existsSync(out) && statSync(out).mtimeMs >= sources) process.exit(0);
const require = createRequire(join(web, 'package.json'));
const { build } = await import(require.resolve('vite'));
process.stderr.write('[build-web] building apps/web with Vite\n');
// Build beside dist and swap it in, so a running coordinator never serves a half-written app.
const next = join(web, 'dist-next');
rmSync(next, { recursive: true, force: true });
await build({ configFile: join(web, 'vite.config.ts'), logLevel: 'warn', build: { outDir: next } });
const old = join(web, 'dist-old');
rmSync(old, { recursive: true, force: true });
if (existsSync(join(web, 'dist'))) renameSync(join(web, 'dist'), old);
renameSync(next, join(web, 'dist'));
rmSync(old, { recursive: true, force: true });
