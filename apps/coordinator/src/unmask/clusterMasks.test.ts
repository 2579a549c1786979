/**
 * Unmasking across nodes (issue 17 §2) on a real Redis started by the test: two nodes' BullMQ workers share
 * a round's ranges, the sum is the one computed in process, and no job (its seeds are secrets) stays in Redis.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcessMasks, type MaskTerm } from '@hushfl/secagg';
import { type LocalServer, startRedis } from '../localServers.ts';
import { Queue } from 'bullmq';
import { ClusterMasks, queueConnection, startUnmaskWorker, termsOf, UNMASK_QUEUE } from './clusterMasks.ts';

let redis: LocalServer;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(() => redis?.stop());

function round(terms: number, dim: number, bits: number) {
  const t: MaskTerm[] = Array.from({ length: terms }, (_, i) => ({ seed: new Uint8Array(randomBytes(32)), sign: i % 3 === 0 ? -1 : 1 }));
  const start = Uint32Array.from({ length: dim }, (_, i) => (i * 2654435761) % 2 ** bits);
  return { terms: t, start };
}

async function expected(terms: readonly MaskTerm[], start: Uint32Array, bits: number): Promise<Uint32Array> {
  const want = start.slice();
  await inProcessMasks.apply(want, terms, bits);
  return want;
}

describe('unmasking across the cluster (BullMQ)', () => {
  it("splits a round's masks between two nodes' workers; the sum equals the in-process one, and no job is left in Redis", async () => {
    const connection = queueConnection(redis.url);
    const prefix = `t${Date.now()}`;
    const done: Record<string, number> = { a: 0, b: 0 };
    const workers = ['a', 'b'].map((name) => {
      const w = startUnmaskWorker(connection, { prefix });
      w.on('completed', () => void done[name]!++);
      return w;
    });
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    const local = { apply: () => Promise.reject(new Error('the round should have been split across the nodes')) };
    const masks = await ClusterMasks.open(connection, local, { prefix, minWords: 0 });
    try {
      for (const bits of [16, 32]) {
        const { terms, start } = round(7, 10_001, bits); // not a multiple of a block, nor of the parts
        const sum = start.slice();
        await masks.apply(sum, terms, bits);
        expect(Buffer.from(sum.buffer).equals(Buffer.from((await expected(terms, start, bits)).buffer))).toBe(true);
      }
      // Every range went through a node's worker: two a round (one per worker listening), two rounds.
      expect(done.a! + done.b!).toBe(4);
      expect(masks.ranges).toEqual({ byNodes: 4, here: 0 });
      // A job no leader waits for any more (its deadline passed: a dead leader's round) is dropped unopened.
      // Whichever worker takes it (one blocked waiting for a job may take it even while pausing).
      const failed = new Promise<string>((resolve) => {
        for (const w of workers) w.once('failed', (_job, e) => resolve(e.message));
      });
      const queue = new Queue(UNMASK_QUEUE, { connection, prefix });
      await queue.add('slice', { seeds: '', signs: '', start: 0, count: 4, bits: 16, deadline: Date.now() - 1 }, { removeOnFail: true });
      expect(await failed).toMatch(/stale/);
      await queue.close();
      const r = new Redis(redis.url);
      try {
        const keys = await r.keys(`${prefix}:hushfl-unmask:*`);
        // Queue bookkeeping (meta, id counter, events stream) stays; no job hash, so no seed.
        expect(keys.filter((k) => /:\d+$/.test(k))).toEqual([]);
      } finally {
        r.disconnect();
      }
    } finally {
      await masks.close();
      await Promise.all(workers.map((w) => w.close()));
    }
  }, 60_000);

  it('computes a range itself when no node answers in time, and stays in process below the threshold or alone', async () => {
    const connection = queueConnection(redis.url);
    const prefix = `s${Date.now()}`;
    // Two nodes counted, but none takes a job (their workers stalled, say): the jobs wait unanswered.
    let local = 0;
    const counting = {
      apply: (s: Uint32Array, t: readonly MaskTerm[], b: number) => {
        local++;
        return inProcessMasks.apply(s, t, b);
      },
    };
    const masks = await ClusterMasks.open(connection, counting, { prefix, minWords: 0, timeoutMs: 500, parts: async () => 2 });
    const small = await ClusterMasks.open(connection, counting, { prefix, minWords: 1 << 20 });
    try {
      const { terms, start } = round(3, 4096, 16);
      const sum = start.slice();
      await masks.apply(sum, terms, 16);
      expect(Buffer.from(sum.buffer).equals(Buffer.from((await expected(terms, start, 16)).buffer))).toBe(true);
      expect(local).toBe(0); // ranges computed here one by one, not the whole round handed back
      expect(masks.ranges).toEqual({ byNodes: 0, here: 2 });
      // Below the threshold: the node's own applier.
      await small.apply(start.slice(), terms, 16);
      expect(local).toBe(1);
    } finally {
      await Promise.all([masks.close(), small.close()]);
    }
  }, 60_000);

  it('refuses a job whose seeds and signs disagree', () => {
    expect(() =>
      termsOf({ seeds: Buffer.alloc(64).toString('base64'), signs: Buffer.from([1]).toString('base64'), start: 0, count: 4, bits: 16, deadline: 0 }),
    ).toThrow(/64 seed bytes for 1 signs/);
  });
});
