import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { store } from './store.ts';

describe('IndexedDB store', () => {
  it('keeps identity, shards, the in-flight round, the model and metrics, and forgets them all', async () => {
    await store.setIdentity({ clientId: 'abcdefgh12345678', sessionToken: 't'.repeat(32), miniClients: 2, shards: [4, 9] });
    await store.setShard('demo:mnist:1', 4, Uint8Array.from([1, 2, 3]));
    await store.setModel({ roundId: 'r', round: 3, weights: new Uint8Array(8) });
    await store.setMetrics({ backend: 'wasm', miniClients: 2, rounds: [], dpsgdEpsilon: 0.5, dpsgdDelta: 1e-5 });
    const round = {
      task: { roundId: 'run/r0/a1' },
      record: { roundId: 'run/r0/a1' },
      secagg: { version: 1, input: Uint32Array.from([7]) },
      lastOutgoing: null,
    };
    await store.setRound(round as never);
    expect(await store.identity()).toMatchObject({ clientId: 'abcdefgh12345678', shards: [4, 9] });
    expect(Array.from((await store.shard('demo:mnist:1', 4))!)).toEqual([1, 2, 3]);
    expect(await store.shard('demo:mnist:1', 5)).toBeUndefined();
    // Another run's data never reads this one's shard of the same index.
    expect(await store.shard('demo:spam:2', 4)).toBeUndefined();
    expect((await store.model())?.round).toBe(3);
    expect((await store.metrics())?.dpsgdEpsilon).toBe(0.5);
    const back = (await store.round()) as unknown as typeof round;
    expect(back.secagg.input).toBeInstanceOf(Uint32Array);
    await store.setRound(null);
    expect(await store.round()).toBeUndefined();
    await store.forget();
    expect(await store.identity()).toBeUndefined();
    expect(await store.shard('demo:mnist:1', 4)).toBeUndefined();
  });
});
