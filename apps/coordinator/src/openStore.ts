/**
 * The store a coordinator runs on: an embedded SQLite file under its data directory (one machine, the
 * default) or, given `--store postgres://…`, the Postgres database a cluster's nodes share (issue 17 §1).
 */
import { join } from 'node:path';
import { PostgresStore } from './postgresStore.ts';
import { SqliteStore } from './sqliteStore.ts';
import { asyncStore, type Store } from './store.ts';

export interface OpenedStore {
  readonly store: Store;
  /** The embedded database when the store is SQLite (for tests and tools that read it directly), else null. */
  readonly sqlite: SqliteStore | null;
}

/** True for a URL the Postgres store takes (postgres:// or postgresql://). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

export async function openStore(dataDir: string, url?: string): Promise<OpenedStore> {
  if (url === undefined) {
    const sqlite = new SqliteStore(join(dataDir, 'hushfl.db'));
    return { store: asyncStore(sqlite), sqlite };
  }
  if (!isPostgresUrl(url)) throw new Error(`--store must be a postgres:// or postgresql:// URL, got '${url.replace(/\/\/[^@/]*@/, '//…@')}'`);
  return { store: await PostgresStore.connect(url), sqlite: null };
}
