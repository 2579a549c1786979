/**
 * The clients table does not grow without bound (issue 13 §2), on a real SQLite file: identities that never
 * finished a round and were last seen before the retention are deleted with their shard assignments, at start
 * and periodically; one that finished a round, one seen recently and one connected now are kept.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hello, settle, startGateway } from './gatewayTesting.ts';
import { pruneClients } from './pruning.ts';
import { SqliteStore } from './sqliteStore.ts';
import { asyncStore } from './store.ts';

const DAY = 86_400_000;
const silent = { info: () => {}, warn: () => {}, error: () => {} };
const open: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

function client(store: SqliteStore, id: string, lastSeen: number, shards: number[] = []) {
  store.upsertClientWithShards({ id, token_hash: 'h'.repeat(64), name: null, mini_clients: Math.max(1, shards.length), shards }, 100);
  store.db.prepare('UPDATE clients SET last_seen = ? WHERE id = ?').run(lastSeen, id);
}

function finishedARound(store: SqliteStore, id: string) {
  if (!store.run('run-1')) store.createRun({ id: 'run-1', name: 't', config: '{}', state: 'running', created_at: 0, dim: 1, ddg: '{}' });
  store.addParticipants([{ run_id: 'run-1', round: 0, attempt: 1, client_id: id, secagg_id: 1, contributions: 1 }]);
  store.setParticipants('run-1', 0, 1, [{ clientId: id, status: 'finished', stage: null }]);
}

describe('pruning client identities', () => {
  it('deletes the stale ones that never finished a round, with their shards; keeps finished, recent and connected ones', async () => {
    const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), 'hushfl-prune-')), 'hushfl.db'));
    open.push(() => store.close());
    const now = 100 * DAY;
    client(store, 'stale-aaaaaa', now - 8 * DAY, [3, 4]);
    client(store, 'dropped-bbbb', now - 8 * DAY, [5]);
    client(store, 'finished-ccc', now - 30 * DAY, [6]);
    client(store, 'recent-dddd', now - 6 * DAY);
    client(store, 'online-eeee', now - 9 * DAY, [7]);
    finishedARound(store, 'finished-ccc');
    // Selected and dropped is not finished.
    store.addParticipants([{ run_id: 'run-1', round: 1, attempt: 1, client_id: 'dropped-bbbb', secagg_id: 2, contributions: 1 }]);
    store.setParticipants('run-1', 1, 1, [{ clientId: 'dropped-bbbb', status: 'dropped', stage: 'masked-input' }]);

    const pruned: number[] = [];
    const ids = await pruneClients({
      store: asyncStore(store),
      retentionMs: 7 * DAY,
      connected: () => ['online-eeee'],
      log: silent,
      now: () => now,
      onPruned: (n) => pruned.push(n),
    });
    expect(ids.sort()).toEqual(['dropped-bbbb', 'stale-aaaaaa']);
    expect(pruned).toEqual([2]);
    expect(store.client('stale-aaaaaa')).toBeUndefined();
    expect(store.clientCount()).toBe(3);
    expect(store.shardAssignments().map((a) => [a.shard, a.client_id])).toEqual([
      [6, 'finished-ccc'],
      [7, 'online-eeee'],
    ]);
    // Nothing more is stale until time passes.
    expect(await pruneClients({ store: asyncStore(store), retentionMs: 7 * DAY, connected: () => [], log: silent, now: () => now })).toEqual(['online-eeee']);
    expect(await pruneClients({ store: asyncStore(store), retentionMs: 7 * DAY, connected: () => [], log: silent, now: () => now + 2 * DAY })).toEqual([
      'recent-dddd',
    ]);
  });

  it('runs at start and periodically in the gateway, never touching an identity connected now', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hushfl-prune-'));
    const before = new SqliteStore(join(dir, 'hushfl.db'));
    client(before, 'left-long-ago', Date.now() - 8 * DAY, [1]);
    client(before, 'left-recently', Date.now() - DAY, [2]);
    before.close();

    const g = await startGateway({ clientRetentionMs: 7 * DAY, pruneIntervalMs: 50 }, dir);
    open.push(g.close);
    expect(g.counters.stats().pruned).toBe(1); // at start
    expect(g.sqlite!.client('left-long-ago')).toBeUndefined();
    expect(g.sqlite!.client('left-recently')).toBeDefined();

    const c = await g.connect();
    const ack = await hello(c.socket);
    if (!ack.ok) throw new Error(ack.error);
    const stale = () => g.sqlite!.db.prepare('UPDATE clients SET last_seen = 0 WHERE id = ?').run(ack.clientId);
    stale();
    await settle(200); // several periodic runs
    expect(g.sqlite!.client(ack.clientId)).toBeDefined();

    const left = Date.now();
    c.socket.disconnect();
    await settle();
    // It left: its retention counts from now, so it is kept ...
    expect((g.sqlite!.db.prepare('SELECT last_seen FROM clients WHERE id = ?').get(ack.clientId) as { last_seen: number }).last_seen).toBeGreaterThanOrEqual(
      left,
    );
    await settle(200);
    expect(g.sqlite!.client(ack.clientId)).toBeDefined();
    // ... until it has been away longer than the retention.
    stale();
    await settle(200);
    expect(g.sqlite!.client(ack.clientId)).toBeUndefined();
    expect(g.counters.stats().pruned).toBe(2);
  });
});
