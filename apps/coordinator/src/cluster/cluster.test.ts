/**
 * The cluster's parts on a real Redis started by the test: the bus (broadcasts, requests to the leader, an
 * answer nobody gives) and the leader lease (one holder, renewal, takeover after a holder stops renewing,
 * hand-back on a clean stop).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startRedis } from '../localServers.ts';
import { ClusterBus, NoLeaderError } from './bus.ts';
import { LeaderLease } from './lease.ts';

let redis: LocalServer;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(() => redis?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the cluster bus', () => {
  it('broadcasts to every node, and a request is answered by the node that serves (errors included)', async () => {
    const [a, b] = await Promise.all([ClusterBus.connect(redis.url, 'a', 'bus1'), ClusterBus.connect(redis.url, 'b', 'bus1')]);
    try {
      const heard: unknown[] = [];
      await a.on('events', (v) => heard.push(['a', v]));
      await b.on('events', (v) => heard.push(['b', v]));
      await a.publish('events', { type: 'round', mean: new Float64Array([1.5]) });
      await expect.poll(() => heard.length).toBe(2);
      expect((heard[0] as [string, { mean: Float64Array }])[1].mean).toBeInstanceOf(Float64Array);

      await expect(b.request('status', [], 300)).rejects.toBeInstanceOf(NoLeaderError);
      a.serve(async (r) => {
        if (r.method === 'fail') throw new Error('run x is not active');
        return { method: r.method, from: r.from, echo: r.args[0] };
      });
      expect(await b.request('secagg', [new Uint8Array([7, 8])])).toEqual({ method: 'secagg', from: 'b', echo: new Uint8Array([7, 8]) });
      await expect(b.request('fail', [])).rejects.toThrow('run x is not active');
      a.serve(null);
      await expect(b.request('status', [], 300)).rejects.toBeInstanceOf(NoLeaderError);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('the leader lease', () => {
  it('has one holder; another node takes it once the holder stops renewing, and at once after a clean stop', async () => {
    const [a, b] = await Promise.all([ClusterBus.connect(redis.url, 'a', 'lease1'), ClusterBus.connect(redis.url, 'b', 'lease1')]);
    const log: string[] = [];
    const lease = (bus: ClusterBus, ttl: number) =>
      new LeaderLease(bus.redis, bus.channel('leader'), bus.channel(`node:${bus.nodeId}`), bus.nodeId, ttl, {
        acquired: () => void log.push(`${bus.nodeId} leads`),
        lost: (why) => void log.push(`${bus.nodeId} lost: ${why}`),
      });
    const la = lease(a, 600);
    const lb = lease(b, 600);
    try {
      la.start();
      await expect.poll(() => la.isLeader).toBe(true);
      lb.start();
      // Three ttl's: a renews; b never gets it.
      await sleep(1800);
      expect(la.isLeader && !lb.isLeader).toBe(true);
      expect(await la.nodeAlive(b.channel('node:b'))).toBe(true);
      // a stops renewing without handing the lease back (its process froze, say): b takes over within ttl·4/3.
      la.pause();
      const stalledAt = Date.now();
      await expect.poll(() => lb.isLeader, { timeout: 3000, interval: 20 }).toBe(true);
      expect(Date.now() - stalledAt).toBeLessThan(600 * (4 / 3) + 400);
      // a, thawed, finds it lost the lease at its next renewal and gives the run up.
      la.start();
      await expect.poll(() => log.some((l) => l.startsWith('a lost')), { timeout: 3000 }).toBe(true);
      expect(la.isLeader).toBe(false);
      // A clean stop hands the lease back: a takes it at its next try, not after a ttl.
      await lb.stop();
      await expect.poll(() => la.isLeader, { timeout: 600 }).toBe(true);
      expect(log).toEqual(['a leads', 'b leads', expect.stringMatching(/^a lost/), 'a leads']);
    } finally {
      await la.stop();
      await lb.stop();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
