/**
 * Real Postgres and Redis servers on free loopback ports, started and stopped by the process that needs them:
 * the cluster suites (store contract, 2-node cluster) and `pnpm bench scale` (issue 17 §3). Debian's packages
 * (installed by `node scripts/bootstrap.mjs --cluster`, which `npm test` runs); $HUSHFL_PG_BIN and
 * $HUSHFL_REDIS_SERVER point elsewhere. Each server lives in a temporary directory removed when it stops,
 * and is killed by its own PID. Postgres refuses to run as root: as root it runs as the `postgres` user.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { postgresBinDir, redisServerPath } from '../../../scripts/serverBins.mjs';

export interface LocalServer {
  /** A URL clients connect with (postgres://… or redis://…). */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Stops it (fast shutdown, then SIGKILL after a while) and removes its directory. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export { postgresBinDir, redisServerPath };

const MISSING = 'install them with `node scripts/bootstrap.mjs --cluster` (apt-get install -y redis-server postgresql, as root)';

/** The uid/gid Postgres runs as: ours, or the `postgres` user's when we are root. */
function postgresUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root and there is no postgres user to run Postgres as (Debian postgresql creates it)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Resolves when `child` prints `ready` on stdout or stderr; rejects when it exits first or takes too long. */
function waitReady(child: ChildProcess, ready: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => done(new Error(`${what} did not start within ${START_TIMEOUT_MS / 1000} s:\n${out.slice(-2000)}`)), START_TIMEOUT_MS);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (ready.test(out)) done();
    };
    const onExit = (code: number | null) => done(new Error(`${what} exited (${code}) before it was ready:\n${out.slice(-2000)}`));
    const done = (e?: Error) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (e) reject(e);
      else resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Signals `child` and waits for it to exit, SIGKILL after `graceMs`. */
function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill(signal);
  });
}

/**
 * A fresh Postgres cluster (initdb) on a free loopback port, trust authentication for user `hushfl`. fsync is
 * off: a test kills coordinator nodes, never the database's machine, so flushes buy nothing here.
 */
export async function startPostgres(): Promise<LocalServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`Postgres is not installed: ${MISSING}`);
  const user = postgresUser();
  const dir = mkdtempSync(join(tmpdir(), 'hushfl-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const init = spawnSync(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'hushfl', '-E', 'UTF8', '--no-sync'], { ...as, encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.stderr || init.stdout}`);
  }
  const port = await freePort();
  const child = spawn(
    join(bin, 'postgres'),
    ['-D', join(dir, 'data'), '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
    { ...as, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stop = async () => {
    await stopChild(child, 'SIGINT'); // SIGINT is Postgres's fast shutdown (SIGTERM waits for clients)
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(child, /ready to accept connections/, 'postgres');
  } catch (e) {
    await stop();
    throw e;
  }
  child.stdout?.resume();
  child.stderr?.resume();
  return { url: `postgres://hushfl@127.0.0.1:${port}/postgres`, port, pid: child.pid!, stop };
}

/** A new, empty database on `server` (one per test or per cluster); its URL. */
export async function createDatabase(server: LocalServer, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name must be lowercase letters, digits and _, got '${name}'`);
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return server.url.replace(/\/postgres$/, `/${name}`);
}

/** A Redis server on a free loopback port, nothing persisted. */
export async function startRedis(): Promise<LocalServer> {
  const bin = redisServerPath();
  if (!bin) throw new Error(`redis-server is not installed: ${MISSING}`);
  const dir = mkdtempSync(join(tmpdir(), 'hushfl-redis-'));
  const port = await freePort();
  // A node subscribed to the Socket.IO adapter receives every message for its clients from the leader: a round's
  // tasks carry the model to each (d = 2^16: 260 kB a party), more than Redis's default 32 MB pub/sub output
  // buffer holds, after which Redis drops the subscriber (docs/DEPLOY.md).
  const child = spawn(
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--client-output-buffer-limit',
      'pubsub',
      '1gb',
      '512mb',
      '60',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const stop = async () => {
    await stopChild(child, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(child, /Ready to accept connections/i, 'redis-server');
  } catch (e) {
    await stop();
    throw e;
  }
  child.stdout?.resume();
  child.stderr?.resume();
  return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid!, stop };
}
