/**
 * SecAgg+ costs with real cryptography, all parties in one process (pinned to one core by bench/run.ts):
 * the mean client time per stage and the server's unmasking time, for n ∈ {100, 500}, d ∈ {2^16, 100 000} and dropout ∈ {0, 10 %, 30 %}
 * (clients drop after sharing their keys — the costliest case for the server, which must then remove their
 * pairwise masks). k and t are chosen by chooseSecAggParams for the dropout rate, as the coordinator would.
 * Targets (issue #3): n = 500, d = 100 000, 10 % dropout: server unmask < 5 s, client masking < 100 ms.
 *
 * Baseline: the same protocol on the complete graph (k = n − 1, the original SecAgg of Bonawitz et al.
 * 2017) at n ∈ {100, 200}, d = 2^16, 10 % dropout, to show what the sparse graph of Bell et al. (2020)
 * buys: client cost grows with k instead of n, and the server removes k masks per dropped client, not n.
 */
import { figure, type Figure } from '../../../bench/lib.ts';
import { chooseSecAggParams, SECAGG_STAGES, simulateSecAggRound, type DropPoint } from '../src/index.ts';

export async function benchSecAgg(options: { quick?: boolean } = {}): Promise<Figure[]> {
  const figures: Figure[] = [];
  const ns = options.quick ? [100] : [100, 500];
  const dims = options.quick ? [2 ** 16] : [2 ** 16, 100_000];
  for (const n of ns) {
    for (const dim of dims) {
      for (const dropout of [0, 0.1, 0.3]) {
        const ids = Array.from({ length: n }, (_, i) => i + 1);
        const p = chooseSecAggParams(n, { dropoutRate: Math.max(dropout, 0.1) });
        if (!p.live) {
          // γ = 0.1 at 2^-40 leaves no t that survives this dropout rate at this n (issue 12): nothing to time.
          process.stderr.write(
            `  secagg n=${n} dropout=${dropout}: skipped, k=${p.neighbours} t=${p.threshold} abort <= ${p.abortProbability.toPrecision(2)}\n`,
          );
          continue;
        }
        const inputs = new Map(ids.map((id) => [id, Uint32Array.from({ length: dim }, (_, j) => (id + j) & 0xffff)]));
        const dropCount = Math.round(dropout * n);
        // Drop every (n/dropCount)-th client: spread over the ring like independent failures.
        const drops = new Map<number, DropPoint>();
        for (let i = 0; i < dropCount; i++) drops.set(ids[Math.floor((i * n) / dropCount)]!, 'after-share');
        const started = performance.now();
        const r = await simulateSecAggRound({
          config: {
            roundId: `bench-${n}-${dim}-${dropout}`,
            clients: ids,
            bits: 16,
            dim,
            neighbours: p.neighbours,
            threshold: p.threshold,
          },
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
            ...(isTarget
              ? {
                  target: { op: '<=', value: 5000 },
                  // The package's own unmasking: every mask through WebCrypto, on this core. The coordinator removes
                  // the same masks on its worker threads (the unmask suite, at this k).
                  note: 'in process on one core (WebCrypto, 4 expansions in flight on its threads); the coordinator unmasks on worker threads: the unmask suite at k as chooseSecAggParams picks it',
                }
              : {}),
          }),
        );
        process.stderr.write(
          `  secagg n=${n} d=${dim} dropout=${dropout} k=${inputsOf.k} t=${p.threshold}: masking ${t['masked-input'].clientMeanMs.toFixed(1)} ms, ` +
            `server unmask ${t.unmasking.serverMs.toFixed(0)} ms (round ${(performance.now() - started).toFixed(0)} ms)\n`,
        );
      }
    }
  }
  for (const n of options.quick ? [100] : [100, 200]) figures.push(...(await fullGraphComparison(n, 2 ** 16, 0.1)));
  return figures;
}

/** SecAgg+ (k from chooseSecAggParams) against the complete graph, same n, d, inputs and dropouts. */
export async function fullGraphComparison(n: number, dim: number, dropout: number): Promise<Figure[]> {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const inputs = new Map(ids.map((id) => [id, Uint32Array.from({ length: dim }, (_, j) => (id + j) & 0xffff)]));
  const dropCount = Math.round(dropout * n);
  const drops = new Map<number, DropPoint>();
  for (let i = 0; i < dropCount; i++) drops.set(ids[Math.floor((i * n) / dropCount)]!, 'after-share');
  const sparse = chooseSecAggParams(n, { dropoutRate: dropout });
  // The complete graph with Bonawitz et al.'s honest-majority threshold t = floor(n/2) + 1.
  const variants = [
    { graph: 'secagg+', k: Math.min(sparse.neighbours, n - 1), t: sparse.threshold },
    { graph: 'complete', k: n - 1, t: Math.floor(n / 2) + 1 },
  ];
  // Timed for cost only: the honest-majority t is weaker than the γ = 0.1 rule requires (issue 12), so the
  // complete variant's clients are told to assume no colluders.
  const requirement = (graph: string) => (graph === 'complete' ? { dropoutRate: dropout, maxColluders: 0 } : { dropoutRate: dropout });
  const figures: Figure[] = [];
  for (const v of variants) {
    const r = await simulateSecAggRound({
      config: {
        roundId: `bench-graph-${v.graph === 'complete' ? 'complete' : 'sparse'}-${n}`,
        clients: ids,
        bits: 16,
        dim,
        neighbours: v.k,
        threshold: v.t,
      },
      inputs,
      drops,
      requirement: requirement(v.graph),
    });
    if (r.error) throw r.error;
    const t = r.timingsMs;
    const clientTotal = SECAGG_STAGES.reduce((sum, stage) => sum + t[stage].clientMeanMs, 0);
    const inputsOf = { n, d: dim, dropout, graph: v.graph, k: v.k, t: v.t };
    figures.push(
      figure({ name: 'secagg-graph-client-total', inputs: inputsOf, value: clientTotal, unit: 'ms', note: 'mean client time over all five stages' }),
    );
    figures.push(figure({ name: 'secagg-graph-server-unmask', inputs: inputsOf, value: t.unmasking.serverMs, unit: 'ms' }));
    process.stderr.write(
      `  secagg ${v.graph} n=${n} k=${v.k} t=${v.t}: client total ${clientTotal.toFixed(1)} ms, server unmask ${t.unmasking.serverMs.toFixed(0)} ms\n`,
    );
  }
  return figures;
}
