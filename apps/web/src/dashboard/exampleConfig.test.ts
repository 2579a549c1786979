import { parseTaskRunConfig } from '@hushfl/tasks';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { EXAMPLE_CONFIG } from './exampleConfig.ts';

describe("the dashboard's example run config", () => {
  it('is a run the coordinator takes as is: the schema, the SecAgg+ parameters and its task', () => {
    const config = parseTaskRunConfig(parse(EXAMPLE_CONFIG));
    expect(config).toMatchObject({ name: 'mnist-ddg', data: 'demo', task: { name: 'mnist' }, selection: { clientsPerRound: 6 }, minClients: 4 });
  });
});
