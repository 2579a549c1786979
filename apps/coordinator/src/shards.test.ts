/**
 * Shard assignment is persisted (issue 12 §5): over a coordinator restart on the same SQLite file, a new
 * client never gets a shard a client identity already holds, a returning identity gets its own shards back,
 * and when every shard is held only those of identities that are not connected are handed on.
 */
import { io, type Socket } from 'socket.io-client';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIENT_NAMESPACE, EVENTS, PROTOCOL_VERSION } from '@hushfl/protocol';
import { SqliteStore } from './sqliteStore.ts';
import { startTestCoordinator, testConfig } from './testing.ts';

type Ack = { ok: true; clientId: string; sessionToken: string; shards: number[]; resumed: boolean } | { ok: false; error: string };
type Identity = { clientId: string; sessionToken: string; shards: number[] };

/** A client that says hello (no `ready`: it is never selected, nothing trains) and stays connected. */
async function hello(url: string, miniClients: number, resume?: Identity): Promise<{ socket: Socket; ack: Ack }> {
  const socket = io(new URL(CLIENT_NAMESPACE, url).toString(), { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const ack = (await socket.emitWithAck(EVENTS.hello, {
    v: PROTOCOL_VERSION,
    miniClients,
    ...(resume ? { resume: { clientId: resume.clientId, sessionToken: resume.sessionToken } } : {}),
  })) as Ack;
  return { socket, ack };
}

function identity(ack: Ack): Identity {
  if (!ack.ok) throw new Error(`hello refused: ${ack.error}`);
  return { clientId: ack.clientId, sessionToken: ack.sessionToken, shards: ack.shards };
}

async function closeAll(sockets: Socket[]): Promise<void> {
  for (const s of sockets) s.disconnect();
  await new Promise((r) => setTimeout(r, 100)); // the server sees the disconnects
}

describe('shard assignment', () => {
  it('survives a restart: no shard goes to two identities, a returning identity keeps its shards', async () => {
    const config = testConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 }, task: { shards: 8 } });
    const first = await startTestCoordinator(config);
    const open: Socket[] = [];
    const ids: Record<string, Identity> = {};
    for (const [name, k] of [
      ['a', 2],
      ['b', 1],
      ['c', 1],
    ] as const) {
      const h = await hello(first.c.url, k);
      open.push(h.socket);
      ids[name] = identity(h.ack);
      expect(ids[name]!.shards).toHaveLength(k);
    }
    const before = Object.values(ids).flatMap((i) => i.shards);
    expect(new Set(before).size).toBe(4);
    await closeAll(open.splice(0));
    await first.c.close();

    // Restart on the same database file.
    const second = await startTestCoordinator(undefined, first.dataDir);
    expect(second.c.manager.currentData().demo.shards).toBe(8);
    const a = await hello(second.c.url, 2, ids.a);
    open.push(a.socket);
    expect(a.ack).toMatchObject({ ok: true, resumed: true, clientId: ids.a!.clientId, shards: ids.a!.shards });
    // A new client gets none of the shards held by a, b or c (b and c are offline but still hold theirs).
    const d = await hello(second.c.url, 2);
    open.push(d.socket);
    ids.d = identity(d.ack);
    expect(ids.d.shards.filter((s) => before.includes(s))).toEqual([]);
    const b = await hello(second.c.url, 1, ids.b);
    open.push(b.socket);
    expect(b.ack).toMatchObject({ ok: true, resumed: true, shards: ids.b!.shards });
    const e = await hello(second.c.url, 2);
    open.push(e.socket);
    ids.e = identity(e.ack);
    const held = [...before, ...ids.d.shards, ...ids.e.shards];
    expect(new Set(held).size).toBe(8); // all 8 shards, each held once

    // Every shard is held: a new client gets the shard of the one identity not connected (c), never one of a
    // connected identity; c, returning, gets new shards — here none is left, so it is refused.
    const f = await hello(second.c.url, 1);
    open.push(f.socket);
    ids.f = identity(f.ack);
    expect(ids.f.shards).toEqual(ids.c!.shards);
    expect(second.c.sqlite!.client(ids.c!.clientId)!.shards).toEqual([]); // c may no longer download it
    const c = await hello(second.c.url, 1, ids.c);
    open.push(c.socket);
    expect(c.ack).toMatchObject({ ok: false, error: expect.stringMatching(/no free data shard/) });
    await closeAll(open.splice(0));
    await second.c.close();

    // What the file holds: one holder per shard, and each client row agrees with it.
    const store = new SqliteStore(join(first.dataDir, 'hushfl.db'));
    const rows = store.shardAssignments();
    expect(rows.map((r) => r.shard)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const name of ['a', 'b', 'd', 'e', 'f']) {
      const id = ids[name]!;
      expect(store.shardsOf(id.clientId)).toEqual(id.shards);
      expect(store.client(id.clientId)!.shards).toEqual(id.shards);
    }
    store.close();
  });
});
