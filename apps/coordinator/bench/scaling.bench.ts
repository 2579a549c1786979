/**
 * `pnpm bench scaling` (issue 18 §4): SecAgg+ client and server time against the parties n ∈ {100, 500, 1 000}
 * and the dimension d ∈ {2^16, 2^20}, every point measured, at 10 % dropout with k as chooseSecAggParams picks it
 * (30 % is live only at n = 1 000, where k = 570: measured at d = 2^16). A whole round of n parties in one
 * process (the secagg suite) cannot reach n = 1 000 at d = 2^20 — its clients alone would expand n·k masks of
 * 4 MiB — so each side is measured alone:
 *  - client: one client's masked input (packages/secagg/src/timeClientMasking.ts; WebCrypto, its steps in sequence);
 *  - server: regenerating the masks the coordinator removes (every survivor's self mask, each dropped party's
 *    pairwise masks with its live neighbours), on its unmasking worker threads (unmask/maskPool.ts) as it runs
 *    them — not the seeds' X25519 agreements or the Shamir reconstructions before them (the secagg suite's
 *    whole rounds include those).
 */
import { availableParallelism } from 'node:os';
import { chooseSecAggParams, type MaskTerm } from '@hushfl/secagg';
import { figure, type Figure, medianMs } from '../../../bench/lib.ts';
import { timeClientMasking } from '@hushfl/secagg/bench';
import { MaskPool } from '../src/unmask/maskPool.ts';

function terms(count: number): MaskTerm[] {
  return Array.from({ length: count }, (_, i) => {
    const seed = crypto.getRandomValues(new Uint8Array(32));
    return { seed, sign: i % 2 ? 1 : -1 };
  });
}

export async function benchScaling(o: { quick?: boolean } = {}): Promise<Figure[]> {
  const threads = Math.max(2, availableParallelism());
  const pool = new MaskPool(threads, 0);
  const figures: Figure[] = [];
  const points: { n: number; d: number; dropout: number }[] = [];
  for (const n of o.quick ? [100] : [100, 500, 1000]) for (const d of o.quick ? [2 ** 16] : [2 ** 16, 2 ** 20]) points.push({ n, d, dropout: 0.1 });
  if (!o.quick) points.push({ n: 1000, d: 2 ** 16, dropout: 0.3 });
  try {
    for (const { n, d, dropout } of points) {
      const p = chooseSecAggParams(n, { dropoutRate: dropout });
      if (!p.live) {
        process.stderr.write(`  scaling n=${n} dropout=${dropout}: no live SecAgg+ parameters, skipped\n`);
        continue;
      }
      const k = Math.min(n - 1, p.neighbours);
      const big = d * k > 2 ** 26;
      const client = await timeClientMasking(k, d, big ? 3 : 5);
      const dropped = Math.round(n * dropout);
      const masks = n - dropped + dropped * Math.round(k * (1 - dropout));
      const t = terms(masks);
      const sum = new Uint32Array(d);
      // The largest points take tens of seconds a run: one run after a warm-up there.
      const server = await medianMs(() => pool.apply(sum, t, 16), big ? 1 : 3, 1);
      const inputs = { n, d, dropout, k, masks, threads };
      figures.push(figure({ name: 'scaling-client-masking', inputs, value: client, unit: 'ms' }));
      figures.push(figure({ name: 'scaling-server-unmask', inputs, value: server, unit: 'ms' }));
      process.stderr.write(
        `  scaling n=${n} d=${d} dropout=${dropout} k=${k}: client ${client.toFixed(0)} ms, server ${server.toFixed(0)} ms (${masks} masks)\n`,
      );
    }
  } finally {
    await pool.close();
  }
  return figures;
}
