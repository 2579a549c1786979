import { dataSourceSchema, taskSchema } from '@hushfl/protocol';
import { describe, expect, it } from 'vitest';
import { TaskCache } from './taskCache.ts';

const config = (seed: number, data: 'demo' | 'local' = 'demo') => ({ task: taskSchema.parse({ seed }), data: dataSourceSchema.parse(data) });

describe('TaskCache', () => {
  it('keys the data by what cuts it: the same config gives the same data, another seed or source other data', () => {
    const cache = new TaskCache();
    const a = cache.of(config(1));
    expect(cache.of(config(1))).toBe(a);
    expect(cache.of()).toBe(a); // the default config is seed 1, demo
    const b = cache.of(config(2));
    expect(b.key).not.toBe(a.key);
    const local = cache.of(config(1, 'local'));
    expect(local.key).toMatch(/^local:mnist:/);
    // With data: local the key names only the task (clients bring their data), but the held-out subset follows the seed.
    expect(cache.of(config(2, 'local')).key).toBe(local.key);
    expect(cache.of(config(2, 'local'))).not.toBe(local);
  });

  it('keeps only the few most recently used configs', () => {
    const cache = new TaskCache();
    const first = cache.of(config(1));
    for (let seed = 2; seed <= 6; seed++) cache.of(config(seed));
    expect(cache.of(config(6))).toBe(cache.of(config(6)));
    const again = cache.of(config(1));
    expect(again).not.toBe(first);
    expect(again.key).toBe(first.key);
  });
});
