#!/usr/bin/env node
// The import boundaries of the workspace, checked by `npm test` (one test: any violation fails it):
// - pure packages (packages/*) import no Node built-in, no server, socket or database library, and use no
//   DOM global: they run unchanged in browsers, Workers and Node (platform/node is the Node shell);
// - the browser platform's code (platform/browser/src: the SDK, its Workers) imports no Node built-in and no
//   server library: it runs in pages and Workers (its Vite plugin, vite.mjs beside src/, runs in the build);
// - nothing imports another workspace package's files by a relative path (import it by its @hushfl name):
//   the example sites (examples/*) and apps/web use the SDK as any site would;
// - no app imports another app, except apps/cli, the composition root.
// Test files and test support (*.test.ts, testing.ts, bench/) may use Node: they run in it.
// (dependency-cruiser cannot parse TypeScript 7 sources, so the rules are checked here, by the same names.)
// Usage: node scripts/check-boundaries.mjs [root]   — prints each violation, exits 1 if there is one.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const IO_LIBRARIES = /^(fastify|@fastify\/.*|fastify-plugin|socket\.io|socket\.io-client|engine\.io|ws|better-sqlite3|ioredis|pg|bullmq|@socket\.io\/.*)$/;
const DOM_GLOBALS = /\b(window|document|navigator|localStorage|sessionStorage|indexedDB|XMLHttpRequest|HTMLElement|fetch)\s*[.(]/;
const SERVER_LIBRARIES = /^(fastify|@fastify\/.*|fastify-plugin|socket\.io|engine\.io|ws|better-sqlite3|ioredis|pg|bullmq|@socket\.io\/.*)$/;
const TESTS = /(\.test\.tsx?$|[/\\]testing\.ts$|[/\\]bench[/\\])/;
const BUILTINS = new Set(builtinModules);

function sources(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('dist')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (/\.(ts|tsx|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every module specifier a file imports (static, dynamic, re-export, side-effect). */
export function importsOf(text) {
  const out = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of text.matchAll(re)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** The workspace unit a path belongs to: "packages/engine", "apps/cli", "platform/node", "examples/embed-site", "e2e", or null. */
function unitOf(rel) {
  const parts = rel.split(sep);
  if (['packages', 'apps', 'platform', 'examples'].includes(parts[0]) && parts.length > 2) return `${parts[0]}/${parts[1]}`;
  if (parts[0] === 'e2e') return 'e2e';
  return null;
}

// Each app's package name → its folder ("@hushfl/web" → "apps/web"), from every apps/<dir>/package.json.
function appsOf(root) {
  const out = new Map();
  let names = [];
  try {
    names = readdirSync(join(root, 'apps'));
  } catch {
    return out;
  }
  for (const dir of names) {
    try {
      out.set(JSON.parse(readFileSync(join(root, 'apps', dir, 'package.json'), 'utf8')).name, `apps/${dir}`);
    } catch {
      // not a package
    }
  }
  return out;
}

export function checkBoundaries(root) {
  const violations = [];
  const apps = appsOf(root);
  for (const top of ['packages', 'platform', 'apps', 'examples', 'e2e']) {
    let files;
    try {
      files = sources(join(root, top));
    } catch {
      continue;
    }
    for (const file of files) {
      const rel = relative(root, file);
      const unit = unitOf(rel);
      const pure = rel.startsWith(`packages${sep}`) && !TESTS.test(rel);
      const browser = rel.startsWith(`platform${sep}browser${sep}src${sep}`) && !TESTS.test(rel);
      const text = readFileSync(file, 'utf8');
      const report = (rule, what) => violations.push(`${rule}: ${rel} → ${what}`);
      for (const spec of importsOf(text)) {
        if (pure && (spec.startsWith('node:') || BUILTINS.has(spec.split('/')[0]))) report('pure-packages-no-node', spec);
        if (pure && IO_LIBRARIES.test(spec)) report('pure-packages-no-io-libraries', spec);
        if (browser && (spec.startsWith('node:') || BUILTINS.has(spec.split('/')[0]) || SERVER_LIBRARIES.test(spec))) report('browser-platform-no-node', spec);
        if (spec.startsWith('.')) {
          const target = relative(root, resolve(dirname(file), spec));
          const other = unitOf(target);
          if (other && other !== unit) report('no-relative-import-into-another-package', target);
        }
        const app = apps.get(spec);
        if (app && unit?.startsWith('apps/') && unit !== 'apps/cli' && unit !== app) report('apps-do-not-import-apps', spec);
      }
      if (pure) {
        const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
        const dom = DOM_GLOBALS.exec(code);
        if (dom) report('pure-packages-no-dom', dom[1]);
      }
    }
  }
  return violations;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const violations = checkBoundaries(root);
  for (const v of violations) process.stderr.write(`${v}\n`);
  process.stderr.write(violations.length ? `${violations.length} boundary violation(s)\n` : 'no boundary violations\n');
  process.exit(violations.length ? 1 : 0);
}
