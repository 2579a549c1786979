/**
 * What a tab keeps in IndexedDB (never localStorage or the URL): its identity (client id and session token),
 * its data shards, the in-flight round (keys and SecAgg state, to continue after a reload and to keep refusing
 * a second unmask), the latest global model, its metrics and its mini-clients' DP-SGD ledgers. "Forget me"
 * deletes the database.
 */
import { openDB, deleteDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ClientMetrics, PersistedDpsgdLedger, PersistedRound } from '@hushfl/client';
import type { IdentityFileJson } from '@hushfl/secagg';

export const DB_NAME = 'hushfl';

export interface Identity {
  readonly clientId: string;
  readonly sessionToken: string;
  readonly miniClients: number;
  readonly shards: number[];
}

interface Schema extends DBSchema {
  kv: {
    key: 'identity' | 'metrics' | 'round' | 'model' | 'pki';
    value: Identity | ClientMetrics | PersistedRound | { roundId: string; round: number; weights: Uint8Array } | IdentityFileJson;
  };
  shards: { key: number; value: Uint8Array };
  /** Each mini-client's DP-SGD ledger per run, keyed [runId, miniClient] (so ε survives a reload). */
  dpsgd: { key: [string, number]; value: PersistedDpsgdLedger };
}

let db: Promise<IDBPDatabase<Schema>> | null = null;

function open(): Promise<IDBPDatabase<Schema>> {
  db ??= openDB<Schema>(DB_NAME, 2, {
    upgrade(d, oldVersion) {
      if (oldVersion < 1) {
        d.createObjectStore('kv');
        d.createObjectStore('shards');
      }
      if (oldVersion < 2) d.createObjectStore('dpsgd');
    },
    blocking() {
      // Another context (Forget me) wants to delete the database: let it.
      void db?.then((x) => x.close());
      db = null;
    },
  });
  return db;
}

export const store = {
  async identity(): Promise<Identity | undefined> {
    return (await (await open()).get('kv', 'identity')) as Identity | undefined;
  },
  async setIdentity(i: Identity): Promise<void> {
    await (await open()).put('kv', i, 'identity');
  },
  async shard(index: number): Promise<Uint8Array | undefined> {
    return (await open()).get('shards', index);
  },
  async setShard(index: number, bytes: Uint8Array): Promise<void> {
    await (await open()).put('shards', bytes, index);
  },
  async round(): Promise<PersistedRound | undefined> {
    return (await (await open()).get('kv', 'round')) as PersistedRound | undefined;
  },
  async setRound(r: PersistedRound | null): Promise<void> {
    const d = await open();
    if (r) await d.put('kv', r, 'round');
    else await d.delete('kv', 'round');
  },
  async metrics(): Promise<ClientMetrics | undefined> {
    return (await (await open()).get('kv', 'metrics')) as ClientMetrics | undefined;
  },
  async setMetrics(m: ClientMetrics): Promise<void> {
    await (await open()).put('kv', m, 'metrics');
  },
  async model(): Promise<{ roundId: string; round: number; weights: Uint8Array } | undefined> {
    return (await (await open()).get('kv', 'model')) as { roundId: string; round: number; weights: Uint8Array } | undefined;
  },
  async setModel(m: { roundId: string; round: number; weights: Uint8Array }): Promise<void> {
    await (await open()).put('kv', m, 'model');
  },
  /** PKI mode: the enrolled identity file the user imported (`hushfl enroll issue`); it holds a secret key. */
  async pkiIdentity(): Promise<IdentityFileJson | undefined> {
    return (await (await open()).get('kv', 'pki')) as IdentityFileJson | undefined;
  },
  async setPkiIdentity(file: IdentityFileJson | null): Promise<void> {
    const d = await open();
    if (file) await d.put('kv', file, 'pki');
    else await d.delete('kv', 'pki');
  },
  async dpsgdLedgers(): Promise<PersistedDpsgdLedger[]> {
    return (await open()).getAll('dpsgd');
  },
  /** Stores a run's ledgers in one transaction (all of them or none). */
  async setDpsgdLedgers(ledgers: readonly PersistedDpsgdLedger[]): Promise<void> {
    const tx = (await open()).transaction('dpsgd', 'readwrite');
    await Promise.all([...ledgers.map((l) => tx.store.put(l, [l.runId, l.miniClient])), tx.done]);
  },
  /** Forget me: everything this tab stored. */
  async forget(): Promise<void> {
    const d = await db;
    d?.close();
    db = null;
    await deleteDB(DB_NAME);
  },
};
