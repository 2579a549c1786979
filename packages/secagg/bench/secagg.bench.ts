/**
 * SecAgg+ costs with real cryptography, all parties in one process on one core: the mean client time per
 * stage and the server's unmasking time, for n ∈ {100, 500}, d ∈ {2^16, 100 000} and dropout ∈ {0, 10 %, 30 %}
 * (clients drop after sharing their keys — the costliest case for the server, which must then remove their
 * pairwise masks). k and t are chosen by chooseSecAggParams for the dropout rate, as the coordinator would.
 * Targets (issue #3): n = 500, d = 100 000, 10 % dropout: server unmask < 5 s, client masking < 100 ms.
 */
import { figure, type Figure } from '../../../bench/lib.ts';
import { chooseSecAggParams, simulateSecAggRound, type DropPoint } from '../src/index.ts';

export async function benchSecAgg(options: { quick?: boolean } = {}): Promise<Figure[]> {
  const figures: Figure[] = [];
  const ns = options.quick ? [100] : [100, 500];
  const dims = options.quick ? [2 ** 16] : [2 ** 16, 100_000];
  for (const n of ns) {
    for (const dim of dims) {
      for (const dropout of [0, 0.1, 0.3]) {
        const ids = Array.from({ length: n }, (_, i) => i + 1);
        const p = chooseSecAggParams(n, { dropoutRate: Math.max(dropout, 0.1) });
        const inputs = new Map(ids.map((id) => [id, Uint32Array.from({ length: dim }, (_, j) => (id + j) & 0xffff)]));
        const dropCount = Math.round(dropout * n);
        // Drop every (n/dropCount)-th client: spread over the ring like independent failures.
        const drops = new Map<number, DropPoint>();
        for (let i = 0; i < dropCount; i++) drops.set(ids[Math.floor((i * n) / dropCount)]!, 'after-share');
        const started = performance.now();
        const r = await simulateSecAggRound({
          config: { roundId: `bench-${n}-${dim}-${dropout}`, clients: ids, bits: 16, dim, neighbours: p.neighbours, threshold: p.threshold, graphSeed: new Uint8Array(32).fill(7) },
          inputs,
          drops,
        });
        if (r.error) throw r.error;
        const inputsOf = { n, d: dim, dropout, k: Math.min(p.neighbours, n - 1), t: p.threshold };
        const t = r.timingsMs;
        const isTarget = n === 500 && dim === 100_000 && dropout === 0.1;
        figures.push(figure({ name: 'secagg-client-advertise', inputs: inputsOf, value: t['advertise-keys'].clientMeanMs, unit: 'ms' }));
        figures.push(figure({ name: 'secagg-client-share-keys', inputs: inputsOf, value: t['share-keys'].clientMeanMs, unit: 'ms' }));
        figures.push(
          figure({
            name: 'secagg-client-masking',
            inputs: inputsOf,
            value: t['masked-input'].clientMeanMs,
            unit: 'ms',
            ...(isTarget ? { target: { op: '<=', value: 100 } } : {}),
          }),
        );
        figures.push(figure({ name: 'secagg-client-consistency', inputs: inputsOf, value: t['consistency-check'].clientMeanMs, unit: 'ms' }));
        figures.push(figure({ name: 'secagg-client-unmask', inputs: inputsOf, value: t.unmasking.clientMeanMs, unit: 'ms' }));
        figures.push(
          figure({
            name: 'secagg-server-unmask',
            inputs: inputsOf,
            value: t.unmasking.serverMs,
            unit: 'ms',
            ...(isTarget ? { target: { op: '<=', value: 5000 } } : {}),
          }),
        );
        process.stderr.write(
          `  secagg n=${n} d=${dim} dropout=${dropout} k=${inputsOf.k} t=${p.threshold}: masking ${t['masked-input'].clientMeanMs.toFixed(1)} ms, ` +
            `server unmask ${t.unmasking.serverMs.toFixed(0)} ms (round ${(performance.now() - started).toFixed(0)} ms)\n`,
        );
      }
    }
  }
  return figures;
}
