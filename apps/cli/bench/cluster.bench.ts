/**
 * `pnpm bench scale`, the cluster part (issue 17 §3): two `hushfl start` nodes on a Redis and a Postgres
 * started here on loopback, driven by the load generator (runLoadtest): peak concurrent connections over the
 * two nodes, rounds of many selected parties at d = 2^16, and a run whose leader is killed with SIGKILL in the
 * middle of a round. Every process shares this machine's cores with the clients that load it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, startRedis } from '@hushfl/coordinator';
import { figure, type Figure } from '../../../bench/lib.ts';
import { runLoadtest } from '../src/loadtest/runLoadtest.ts';
import { api, startCluster, TOKEN } from '../src/startProcess.testing.ts';

export async function benchCluster(o: { quick?: boolean } = {}): Promise<{ figures: Figure[]; details: Record<string, unknown> }> {
  const q = Boolean(o.quick);
  const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  const dir = mkdtempSync(join(tmpdir(), 'hushfl-bench-cluster-'));
  // The load generator's clients share these 2 cores with the nodes: a thread of them busy with its parties'
  // SecAgg work answers the heartbeat late, so the nodes wait longer for it than for a device of its own.
  const cluster = await startCluster({ redis, postgres, database: 'bench', dir, leaseMs: 15_000, args: ['--ping-timeout-ms', '120000'] });
  const nodes = cluster.nodes;
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  const log = (line: string) => process.stderr.write(`  scale: ${line}\n`);
  try {
    await cluster.node('a');
    await cluster.node('b');
    const urls = nodes.map((n) => n.url);
    const base = { urls, token: TOKEN, bits: 16, deadlineS: 600, timeoutS: 3600 };

    // 1. Connections: many idle sessions over both nodes, one small round.
    const connections = q ? 300 : Number(process.env.HUSHFL_SCALE_CONNECTIONS ?? 5000);
    const c = await runLoadtest({ ...base, clients: connections, selected: 10, rounds: 1, dim: 7850 }, log);
    details.connections = c;
    figures.push(
      figure({
        name: 'cluster concurrent connections',
        inputs: { nodes: 2, clients: connections },
        value: c.connected,
        unit: 'sessions',
        target: { op: '>=', value: q ? 300 : 5000 },
      }),
    );
    for (const [url, mb] of Object.entries(c.rssMb))
      figures.push(figure({ name: 'cluster node peak rss', inputs: { node: url === urls[0] ? 'a' : 'b', clients: connections }, value: mb, unit: 'MB' }));

    // 2. Big rounds: every client selected, d = 2^16.
    // Issue 17's target is 1 000; HUSHFL_SCALE_ROUND_PARTIES sets another (the clients share this machine's cores).
    const big = q ? 60 : Number(process.env.HUSHFL_SCALE_ROUND_PARTIES ?? 1000);
    const r = await runLoadtest({ ...base, clients: big, selected: big, rounds: 2, dim: 2 ** 16 }, log);
    details.bigRounds = r;
    const mean = r.roundSeconds.reduce((a, b) => a + b, 0) / Math.max(1, r.roundSeconds.length);
    figures.push(
      figure({
        name: 'cluster round seconds',
        inputs: { nodes: 2, selected: big, dim: r.dim, dimPadded: 2 ** 16, completed: r.rounds },
        value: r.state === 'completed' ? mean : Number.NaN,
        unit: 's',
        note: `run ${r.state}; rounds ${r.roundSeconds.map((s) => s.toFixed(1)).join(', ')} s`,
      }),
    );

    // 3. Failover: the leader killed while round 1 runs; the run must complete on the other node.
    const fClients = q ? 24 : 400;
    const fSelected = q ? 8 : 100;
    let killedAt: number | null = null;
    const f = await runLoadtest(
      {
        ...base,
        clients: fClients,
        selected: fSelected,
        rounds: 3,
        dim: 2 ** 14,
        onProgress: async (p) => {
          if (killedAt !== null || p.runningRound === null || p.runningRound < 1) return;
          for (const n of nodes) {
            const info = await api<{ leader: boolean }>(n.url, '/api/node').catch(() => null);
            if (info?.leader) {
              n.child.kill('SIGKILL');
              killedAt = Date.now();
              log(`killed the leader (${n.node}) during round ${p.runningRound}`);
              return;
            }
          }
        },
      },
      log,
    );
    details.failover = { ...f, killedAt };
    figures.push(
      figure({
        name: 'cluster run completes after the leader is killed',
        inputs: { nodes: 2, clients: fClients, selected: fSelected, rounds: 3 },
        value: f.state === 'completed' && killedAt !== null ? 1 : 0,
        unit: 'yes',
        target: { op: '>=', value: 1 },
        note: `state ${f.state}, failovers seen ${f.failovers}, rounds completed ${f.rounds}`,
      }),
    );
  } finally {
    await cluster.stop();
    await Promise.all([redis.stop(), postgres.stop()]);
  }
  return { figures, details };
}
