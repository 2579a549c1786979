/**
 * A 2-node cluster (issue 17 §1) as real processes: `hushfl start --redis … --store postgres://…` twice, on a
 * Redis and a Postgres this test starts on free loopback ports, Node clients on both nodes. The leader is
 * killed with SIGKILL in the middle of a round; the other node takes the lease, resumes the run from the
 * shared store (the interrupted attempt aborted and re-run, the ledger as it was written ahead), the dead
 * node's clients reconnect through a load balancer to the living node as themselves, and the run completes
 * with all of them.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalServer, startPostgres, startRedis } from '@hushfl/coordinator';
import type { NodeClient } from '@hushfl/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../runCli.testing.ts';
import { api, clients, startBalancer, startCluster, TOKEN } from '../startProcess.testing.ts';

let redis: LocalServer;
let postgres: LocalServer;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

type Status = { runId: string | null; state: string; round: number; clientsConnected: number };
type Round = {
  round: number;
  attempt: number;
  state: string;
  error: string | null;
  epsilon: number | null;
  finished_at: number | null;
  participants: { client_id: string }[];
};

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v !== undefined && ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a 2-node cluster on Redis and Postgres', () => {
  it('runs with clients on both nodes, and completes the run on the other node after the leader is killed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hushfl-cluster-'));
    const config = join(dir, 'run.json');
    writeFileSync(
      config,
      JSON.stringify({
        rounds: 4,
        // Every round needs all six: after the kill the run completes only if the dead node's clients move.
        minClients: 6,
        selection: { clientsPerRound: 6 },
        task: { shards: 200 },
        training: { epochs: 1, batchSize: 16, learningRate: 0.1 },
        deadlines: { training: 60, shareKeys: 10, maskedInput: 10, consistencyCheck: 10, unmasking: 10 },
        ddg: { bits: 16, gamma: 2e-4, localStddev: 0.004, delta: 1e-5 },
        secagg: { maxColluders: 1 },
      }),
    );
    const cluster = await startCluster({ redis, postgres, database: 'cluster', dir, leaseMs: 3000, args: ['--config', config] });
    const a = await cluster.node('a');
    // The first node takes the lease and starts the configured run.
    const led = await until(
      'node a to lead a run',
      () => api<Status>(a.url, '/api/status'),
      (s) => s.runId !== null,
      30_000,
    );
    const runId = led.runId!;
    const b = await cluster.node('b');
    expect(b.node).toBe('b');
    const all: NodeClient[] = [];
    const stops: (() => Promise<void>)[] = [];
    try {
      // Through a load balancer: two on the leader, four on the other node (the leader reaches parties across
      // nodes every round). The clients reconnect by themselves, as browser tabs do.
      const balancer = await startBalancer([a.url, b.url], (websocket) => (websocket < 2 ? 0 : 1));
      stops.push(balancer.close);
      const onA = await clients(balancer.url, 2, { reconnect: true });
      const onB = await clients(balancer.url, 4, { reconnect: true });
      all.push(...onA, ...onB);
      // The leader sees the clients of both nodes; the other node answers with the leader's status.
      await until(
        '6 clients on the leader',
        () => api<Status>(a.url, '/api/status'),
        (s) => s.clientsConnected === 6,
        30_000,
      );
      // Each node holds the sessions the balancer sent it.
      expect((await api<{ sessions: number }>(a.url, '/api/node')).sessions).toBe(2);
      expect((await api<{ sessions: number }>(b.url, '/api/node')).sessions).toBe(4);
      await until(
        'node b to report the leader status',
        () => api<Status>(b.url, '/api/status'),
        (s) => s.runId === runId && s.clientsConnected === 6,
        30_000,
      );
      // Round 0 is completed with parties selected from both nodes (whichever node answers, from the store).
      const rounds = await until(
        'round 1 in progress',
        () => api<Round[]>(b.url, `/api/runs/${runId}/rounds`),
        (r) => r.some((x) => x.round >= 1 && x.state === 'running'),
        90_000,
      );
      const completed0 = rounds.find((r) => r.round === 0 && r.state === 'completed')!;
      const aIds = new Set(onA.map((c) => c.clientId));
      expect(completed0.participants).toHaveLength(6);
      expect(completed0.participants.filter((p) => aIds.has(p.client_id))).toHaveLength(2);
      const killedAt = Date.now();

      a.child.kill('SIGKILL');
      await new Promise((r) => a.child.once('exit', r));

      const run = await until(
        'the run to end on node b',
        () => api<{ state: string; completed_round: number; reason: string | null }>(b.url, `/api/runs/${runId}`),
        (r) => r.state !== 'running',
        120_000,
      );
      expect(run, b.stderr()).toMatchObject({ state: 'completed', completed_round: 3 });
      const final = await api<Round[]>(b.url, `/api/runs/${runId}/rounds`);
      for (let r = 0; r < 4; r++) expect(final.filter((x) => x.round === r && x.state === 'completed')).toHaveLength(1);
      const rerun = final.find((x) => x.state === 'completed' && x.round === (final.find((y) => y.state === 'aborted')?.round ?? -1));
      console.log(JSON.stringify({ failoverToRoundCompletedMs: rerun ? rerun.finished_at! - killedAt : null }));
      // The attempt the kill interrupted was aborted by the node that took over, and re-run.
      const interrupted = final.find((x) => x.state === 'aborted' && /restarted during the round/.test(x.error ?? ''));
      expect(interrupted).toBeDefined();
      expect(final.find((x) => x.round === interrupted!.round && x.state === 'completed')!.attempt).toBeGreaterThan(interrupted!.attempt);
      // ε grows with every released round, across the failover.
      const released = [0, 1, 2, 3].map((r) => final.find((x) => x.round === r && x.state === 'completed')!.epsilon!);
      for (let r = 1; r < 4; r++) expect(released[r]!).toBeGreaterThan(released[r - 1]!);
      // The dead node's clients reconnected through the balancer to node b and resumed as themselves: every round
      // from the re-run on has all six, and no new identity joined.
      const ids = all.map((c) => c.clientId).sort();
      for (const r of final.filter((x) => x.state === 'completed' && x.round >= interrupted!.round))
        expect(r.participants.map((p) => p.client_id).sort()).toEqual(ids);
      expect((await api<Status>(b.url, '/api/status')).clientsConnected).toBe(6);
      expect((await api<{ sessions: number }>(b.url, '/api/node')).sessions).toBe(6);
    } finally {
      for (const c of all) await c.close().catch(() => undefined);
      for (const stop of stops) await stop();
      await cluster.stop();
    }
  }, 300_000);

  it('hushfl loadtest spreads its protocol clients over both nodes and reports the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hushfl-loadtest-'));
    const cluster = await startCluster({ redis, postgres, database: 'loadtest', dir, leaseMs: 3000 });
    const [a, b] = [await cluster.node('a'), await cluster.node('b')];
    try {
      await until(
        'a leader',
        () => Promise.all([a, b].map((n) => api<{ leader: boolean }>(n.url, '/api/node'))),
        (r) => r.some((x) => x.leader),
        30_000,
      );
      const r = await runCli(
        'loadtest',
        '--url',
        `${a.url},${b.url}`,
        '--token',
        TOKEN,
        '--clients',
        '8',
        '--selected',
        '5',
        '--rounds',
        '2',
        '--dim',
        '8000',
        '--workers',
        '1',
        '--json',
      );
      expect(r.code, r.err).toBe(0);
      const out = JSON.parse(r.out) as {
        state: string;
        connected: number;
        rounds: number;
        roundSeconds: number[];
        failovers: number;
        rssMb: Record<string, number>;
        dim: number;
      };
      expect(out).toMatchObject({ state: 'completed', connected: 8, rounds: 2, failovers: 0, dim: 7960 }); // 784·10 + 10 + 10·10 + 10: the widest MLP within 8 000
      expect(out.roundSeconds).toHaveLength(2);
      for (const s of out.roundSeconds) expect(s).toBeGreaterThan(0);
      expect(Object.keys(out.rssMb).sort()).toEqual([a.url, b.url].sort());
      for (const mb of Object.values(out.rssMb)) expect(mb).toBeGreaterThan(20);
    } finally {
      await cluster.stop();
    }
  }, 300_000);
});
