/**
 * What a tab keeps in IndexedDB (never localStorage or the URL): its identity (client id and session token),
 * its data shards (demo shards from the coordinator, or the person's own examples: they never leave the
 * device), the in-flight round (keys and SecAgg state, to continue after a reload and to keep refusing
 * a second unmask), the latest global model, its metrics and its mini-clients' DP-SGD ledgers. "Forget me"
 * deletes the database.
 */
import { openDB, deleteDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ClientMetrics, PersistedDpsgdLedger, PersistedRound } from '@hushfl/client';
import type { IdentityFileJson } from '@hushfl/secagg';
import type { LocalDataSummary } from '@hushfl/tasks';

export const DB_NAME = 'hushfl';
export const DB_VERSION = 4;

export interface Identity {
  readonly clientId: string;
  readonly sessionToken: string;
  readonly miniClients: number;
  readonly shards: number[];
}

/** The person's own examples for a task (`data: local`), as the localData Worker stored them. */
export interface LocalData {
  readonly task: string;
  /** One shard per mini-client (the shard format). */
  readonly shards: Uint8Array[];
  readonly summary: LocalDataSummary;
  readonly storedAt: number;
}

interface Schema extends DBSchema {
  kv: {
    key: 'identity' | 'metrics' | 'round' | 'model' | 'pki';
    value: Identity | ClientMetrics | PersistedRound | { roundId: string; round: number; weights: Uint8Array } | IdentityFileJson;
  };
  /** Demo shards by `${dataKey}/${index}`: a run on other data never reads another's. */
  shards: { key: string; value: Uint8Array };
  /** Each mini-client's DP-SGD ledger per run, keyed [runId, miniClient] (so ε survives a reload). */
  dpsgd: { key: [string, number]; value: PersistedDpsgdLedger };
  /** The person's own examples by task name (`data: local`): read only by this tab's Workers, never sent. */
  local: { key: string; value: LocalData };
}

let db: Promise<IDBPDatabase<Schema>> | null = null;

function open(): Promise<IDBPDatabase<Schema>> {
  db ??= openDB<Schema>(DB_NAME, DB_VERSION, {
    upgrade(d, oldVersion, _newVersion, tx) {
      if (oldVersion < 1) {
        d.createObjectStore('kv');
        d.createObjectStore('shards');
      }
      if (oldVersion < 2) d.createObjectStore('dpsgd');
      // Version 2 keyed shards by index alone (every run was MNIST): they cannot be told apart now.
      if (oldVersion >= 1 && oldVersion < 3) void tx.objectStore('shards').clear();
      if (oldVersion < 4) d.createObjectStore('local');
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
  async shard(dataKey: string, index: number): Promise<Uint8Array | undefined> {
    return (await open()).get('shards', `${dataKey}/${index}`);
  },
  async setShard(dataKey: string, index: number, bytes: Uint8Array): Promise<void> {
    await (await open()).put('shards', bytes, `${dataKey}/${index}`);
  },
  /** The person's own examples for `task`, if they picked some in this browser. */
  async localData(task: string): Promise<LocalData | undefined> {
    return (await open()).get('local', task);
  },
  async setLocalData(data: LocalData): Promise<void> {
    await (await open()).put('local', data, data.task);
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
