import { chooseSecAggParams } from '@hushfl/secagg';
import { describe, expect, it } from 'vitest';
import { benchScaling } from './scaling.bench.ts';

describe('the scaling suite (issue 18 §4) at its quick size', () => {
  it('measures one client’s masked input and the server’s masks at k and mask counts chooseSecAggParams implies', async () => {
    const figures = await benchScaling({ quick: true });
    expect(figures.map((f) => f.name)).toEqual(['scaling-client-masking', 'scaling-server-unmask']);
    const k = chooseSecAggParams(100, { dropoutRate: 0.1 }).neighbours;
    for (const f of figures) {
      // n = 100 at 10 % dropout: 90 survivors' self masks and 10 dropped parties' masks with their live neighbours.
      expect(f.inputs).toMatchObject({ n: 100, d: 2 ** 16, dropout: 0.1, k, masks: 90 + 10 * Math.round(k * 0.9) });
      expect(f.value).toBeGreaterThan(0);
      expect(Number.isFinite(f.value)).toBe(true);
    }
  });
});
