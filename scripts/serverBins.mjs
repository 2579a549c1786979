// Where the cluster suites' servers live: one lookup for the bootstrap (which installs them with apt, before
// any dependency is there) and for apps/coordinator's localServers.ts (which starts them). Plain Node, no imports
// beyond node:.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Postgres's server binaries (initdb, pg_ctl, postgres): $HUSHFL_PG_BIN, else Debian's newest /usr/lib/postgresql/<v>/bin; null when absent. */
export function postgresBinDir() {
  if (process.env.HUSHFL_PG_BIN) return process.env.HUSHFL_PG_BIN;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  return null;
}

/** redis-server: $HUSHFL_REDIS_SERVER or Debian's /usr/bin/redis-server; null when absent. */
export function redisServerPath() {
  const p = process.env.HUSHFL_REDIS_SERVER ?? '/usr/bin/redis-server';
  return existsSync(p) ? p : null;
}
