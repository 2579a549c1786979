#!/usr/bin/env node
// Makes a fresh machine with only Node 20 and npm ready to run hushfl: pnpm at the pinned version
// (installed locally under .tools/ when the global one differs) and the workspace's dependencies from
// the frozen lockfile. Native addons (better-sqlite3) build against Node's local headers, never a download.
// Usage: node scripts/bootstrap.mjs [--chromium] [--cluster] [-- command to run afterwards...]
// --chromium: Debian's Chromium (browser suites); --cluster: Redis and Postgres servers (cluster suites).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postgresBinDir, redisServerPath } from './serverBins.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.split('@')[1];
const log = (msg) => process.stderr.write(`[bootstrap] ${msg}\n`);

function versionOf(cmd) {
  try {
    return execFileSync(cmd, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** The path of a pnpm binary at exactly the pinned version. */
function ensurePnpm() {
  if (versionOf('pnpm') === pinned) return 'pnpm';
  const local = join(root, '.tools', 'node_modules', '.bin', 'pnpm');
  if (existsSync(local) && versionOf(local) === pinned) return local;
  log(`installing pnpm@${pinned} into .tools/ (the global pnpm is ${versionOf('pnpm') ?? 'missing'})`);
  mkdirSync(join(root, '.tools'), { recursive: true });
  const r = spawnSync('npm', ['install', '--prefix', join(root, '.tools'), '--no-save', '--no-audit', '--no-fund', '-E', `pnpm@${pinned}`], {
    stdio: 'inherit',
  });
  if (r.status !== 0 || versionOf(local) !== pinned) {
    log(`could not install pnpm@${pinned}; install it with: npm i -g -E pnpm@${pinned}`);
    process.exit(1);
  }
  return local;
}

/** Hash of everything that decides what `pnpm install` does. */
function installFingerprint() {
  const h = createHash('sha256');
  const lock = join(root, 'pnpm-lock.yaml');
  h.update(existsSync(lock) ? readFileSync(lock) : 'no-lock');
  h.update(readFileSync(join(root, 'pnpm-workspace.yaml')));
  h.update(process.version);
  return h.digest('hex');
}

function ensureDependencies(pnpm) {
  const stamp = join(root, 'node_modules', '.install-stamp');
  const want = installFingerprint();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  const env = { ...process.env };
  // better-sqlite3 compiles from source: point node-gyp at the headers Node ships with.
  if (!env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
  log('installing dependencies from the frozen lockfile');
  const r = spawnSync(pnpm, ['install', '--frozen-lockfile', '--prefer-offline'], { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    log('pnpm install failed (see above)');
    process.exit(r.status ?? 1);
  }
  writeFileSync(stamp, want);
}

/** Installs Debian packages with apt when we are root (apt-get update once if the first try fails); true when it worked. */
function aptInstall(packages, why) {
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return false;
  log(`installing Debian ${packages.join(', ')} for ${why} (apt-get install -y ${packages.join(' ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  }
  return r.status === 0;
}

/** Debian's Chromium for the browser suites; installed with apt when missing and we are root. */
function ensureChromium() {
  const path = process.env.HUSHFL_CHROMIUM ?? '/usr/bin/chromium';
  if (existsSync(path)) return;
  if (aptInstall(['chromium'], 'the browser tests') && existsSync(path)) return;
  log(`Chromium is missing at ${path}. Install it (as root: apt-get install -y chromium) or set HUSHFL_CHROMIUM to its path.`);
  process.exit(1);
}

/** Redis and Postgres servers for the cluster suites (each test starts its own on loopback ports). */
function ensureClusterServers() {
  const missing = [];
  if (!redisServerPath()) missing.push('redis-server');
  if (!postgresBinDir()) missing.push('postgresql');
  if (!missing.length) return;
  if (aptInstall(missing, 'the cluster tests') && redisServerPath() && postgresBinDir()) return;
  log(`${missing.join(' and ')} missing. Install them (as root: apt-get install -y ${missing.join(' ')}) or set HUSHFL_REDIS_SERVER / HUSHFL_PG_BIN.`);
  process.exit(1);
}

const args = process.argv.slice(2);
const pnpm = ensurePnpm();
ensureDependencies(pnpm);
if (args.includes('--chromium')) ensureChromium();
if (args.includes('--cluster')) ensureClusterServers();
const sep = args.indexOf('--');
if (sep >= 0 && args.length > sep + 1) {
  const [cmd, ...rest] = args.slice(sep + 1);
  const r = spawnSync(cmd, rest, { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
