/**
 * A reloaded tab's client Worker restores its mini-clients' DP-SGD ledgers from IndexedDB (fake-indexeddb)
 * before it takes a task: the ε it reports is the accountant's over every stored round, even where the
 * stored metrics lag behind (a reload between training and the round's end).
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { Trainer } from '@hushfl/client';
import { accountDpsgd } from '@hushfl/ddp';
import { openDB } from 'idb';
import { DB_NAME, store } from '../store.ts';
import { ClientWorkerLogic } from './clientWorker.ts';
import type { FromClientWorker } from './messages.ts';

const stubTrainer: Trainer = {
  miniClients: 2,
  backend: 'stub',
  train: () => Promise.reject(new Error('no training in this test')),
  dispose() {},
};

describe('DP-SGD ledgers in IndexedDB', () => {
  it('a database of the first version keeps its data and gains the ledger store', async () => {
    const v1 = await openDB(DB_NAME, 1, {
      upgrade(d) {
        d.createObjectStore('kv');
        d.createObjectStore('shards');
      },
    });
    await v1.put('kv', { clientId: 'abcdefgh12345678', sessionToken: 't'.repeat(32), miniClients: 1, shards: [3] }, 'identity');
    v1.close();
    expect(await store.identity()).toMatchObject({ clientId: 'abcdefgh12345678', shards: [3] });
    expect(await store.dpsgdLedgers()).toEqual([]);
    await store.forget();
  });

  it('are stored by run and mini-client, restored on init, and forgotten with everything else', async () => {
    const delta = 1e-5;
    const a = accountDpsgd({ sampleRate: 0.25, noiseMultiplier: 1.1, steps: 40, delta });
    const b = accountDpsgd({ sampleRate: 0.4, noiseMultiplier: 1.1, steps: 30, delta });
    const other = accountDpsgd({ sampleRate: 0.25, noiseMultiplier: 1.1, steps: 4, delta });
    await store.setDpsgdLedgers([
      { runId: 'run-a', miniClient: 0, rdp: a.rdp, rounds: 10 },
      { runId: 'run-a', miniClient: 1, rdp: b.rdp, rounds: 10 },
    ]);
    // A second write of the same key replaces it; another run is a separate record.
    await store.setDpsgdLedgers([{ runId: 'run-a', miniClient: 1, rdp: b.rdp, rounds: 10 }]);
    await store.setDpsgdLedgers([{ runId: 'run-b', miniClient: 0, rdp: other.rdp, rounds: 1 }]);
    const rows = await store.dpsgdLedgers();
    expect(rows.map((r) => `${r.runId}/${r.miniClient}/${r.rounds}`).sort()).toEqual(['run-a/0/10', 'run-a/1/10', 'run-b/0/1']);
    expect(rows.find((r) => r.runId === 'run-a' && r.miniClient === 0)!.rdp).toEqual(a.rdp);
    // Metrics stored before the last round's training was charged: stale.
    await store.setMetrics({ backend: 'stub', miniClients: 2, rounds: [], dpsgdEpsilon: 0.1, dpsgdDelta: delta });

    const posted: FromClientWorker[] = [];
    const logic = new ClientWorkerLogic((m) => void posted.push(m), store);
    await logic.init(stubTrainer);
    const metrics = posted.filter((m) => m.type === 'metrics').at(-1);
    // Mini-client 0 composes its two runs; mini-client 1 has run-a only.
    const composed0 = accountDpsgd({ sampleRate: 0.25, noiseMultiplier: 1.1, steps: 44, delta }).epsilon;
    const want = Math.max(composed0, b.epsilon);
    expect(metrics).toMatchObject({ type: 'metrics' });
    expect(metrics?.type === 'metrics' && metrics.metrics.dpsgdEpsilon).toBeCloseTo(want, 9);

    await store.forget();
    expect(await store.dpsgdLedgers()).toEqual([]);
  });
});
