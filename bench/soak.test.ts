import { describe, expect, it } from 'vitest';
import { runSoak } from '../apps/coordinator/bench/soak.bench.ts';

describe('the liveness soak (issue 13), in small', () => {
  it('completes every round with share-poisoning clients, idle Sybils and a reconnecting client, and reports each figure', async () => {
    const poisoners = 2;
    const r = await runSoak({ rounds: 2, sybils: 4, poisoners, honest: 5, epochs: 1 });
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
    const value = (name: string) => r.figures.find((f) => f.name === name)?.value;
    expect(value('soak-rounds-completed')).toBe(2);
    expect(value('soak-poisoners-excluded')).toBe(poisoners);
    expect(value('soak-watchdog-aborts')).toBe(0);
    // Every figure with a target met it; the details carry one memory sample per released round.
    expect(r.figures.filter((f) => f.met === false)).toEqual([]);
    expect((r.details.memory as { samples: unknown[] }).samples).toHaveLength(2);
  }, 120_000);
});
