import { describe, expect, it } from 'vitest';
import { fullGraphComparison } from './secagg.bench.ts';

describe('the SecAgg+ vs complete-graph benchmark', () => {
  it('runs both graphs through real rounds and reports each', async () => {
    const figures = await fullGraphComparison(40, 256, 0.1);
    expect(figures.map((f) => [f.name, f.inputs.graph])).toEqual([
      ['secagg-graph-client-total', 'secagg+'],
      ['secagg-graph-server-unmask', 'secagg+'],
      ['secagg-graph-client-total', 'complete'],
      ['secagg-graph-server-unmask', 'complete'],
    ]);
    for (const f of figures) expect(f.value).toBeGreaterThan(0);
    const complete = figures[2]!.inputs;
    expect(complete.k).toBe(39);
    expect(complete.t).toBe(21);
  });
});
