import { parseTaskRunConfig } from '@hushfl/tasks';
import { serverOptimizerOf } from '@hushfl/protocol';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { EXAMPLE_CONFIG } from './exampleConfig.ts';
import { strategyOf, withStrategy } from './strategyConfig.ts';

describe("the dashboard's strategy picker", () => {
  it('reads the example config as FedAvg with a fixed clip', () => {
    expect(strategyOf(EXAMPLE_CONFIG)).toEqual({ optimizer: 'fedavg', learningRate: 1, proximalMu: 0, adaptiveQuantile: null });
  });

  it('writes FedAdam, FedProx and adaptive clipping into the config the coordinator takes, keeping its comments', () => {
    const text = withStrategy(EXAMPLE_CONFIG, { optimizer: 'fedadam', learningRate: 0.01, proximalMu: 0.05, adaptiveQuantile: 0.7 });
    expect(text).toContain('# n_min: the fewest parties');
    const config = parseTaskRunConfig(parse(text));
    expect(serverOptimizerOf(config.server)).toMatchObject({ optimizer: 'fedadam', learningRate: 0.01 });
    expect(config.training).toMatchObject({ epochs: 2, batchSize: 16, proximalMu: 0.05 });
    expect(config.ddg.adaptiveClip).toEqual({ targetQuantile: 0.7, learningRate: 0.2 });
    expect(strategyOf(text)).toEqual({ optimizer: 'fedadam', learningRate: 0.01, proximalMu: 0.05, adaptiveQuantile: 0.7 });
    // And back: FedProx and adaptive clipping off remove their keys.
    const back = withStrategy(text, { optimizer: 'fedavg', learningRate: 1, proximalMu: 0, adaptiveQuantile: null });
    const again = parseTaskRunConfig(parse(back));
    expect(again.training.proximalMu).toBe(0);
    expect(again.ddg.adaptiveClip).toBeUndefined();
    expect(back).not.toContain('proximalMu');
  });

  it("drops FedAvgM's momentum when another optimizer is picked (the schema refuses the mix)", () => {
    const text = withStrategy('rounds: 3\nminClients: 3\nserver: { learningRate: 1, momentum: 0.9 }\nddg: { noise: false }\n', {
      optimizer: 'fedyogi',
      learningRate: 0.01,
      proximalMu: 0,
      adaptiveQuantile: null,
    });
    expect(parse(text).server).toEqual({ learningRate: 0.01, optimizer: 'fedyogi' });
    expect(strategyOf('rounds: 3\nserver: { momentum: 0.9 }\n')!.optimizer).toBe('fedavgm');
  });

  it('refuses text that is not a mapping, and reads none from it', () => {
    expect(strategyOf('- a\n- b\n')).toBeNull();
    expect(strategyOf('rounds: [1,\n')).toBeNull();
    expect(() => withStrategy('- a\n', { optimizer: 'fedavg', learningRate: 1, proximalMu: 0, adaptiveQuantile: null })).toThrow('must be a mapping');
  });
});
