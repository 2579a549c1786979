import { parseRunConfig, serverOptimizerOf } from '@hushfl/protocol';
import { describe, expect, it } from 'vitest';
import { parseFlags } from './args.ts';
import { strategyFlags, strategyFromFlags } from './strategyFlags.ts';

const parse = (...argv: string[]) => strategyFromFlags(parseFlags(argv, strategyFlags));

describe('the strategy flags', () => {
  it('map onto server, training.proximalMu and ddg.adaptiveClip, which the run config takes', () => {
    const s = parse(
      '--server-optimizer',
      'fedadam',
      '--server-lr',
      '0.02',
      '--server-beta1',
      '0.8',
      '--server-beta2',
      '0.95',
      '--server-tau',
      '0.1',
      '--proximal-mu',
      '0.3',
      '--adaptive-clip',
      '0.6',
    );
    expect(s).toEqual({
      server: { optimizer: 'fedadam', learningRate: 0.02, beta1: 0.8, beta2: 0.95, tau: 0.1 },
      proximalMu: 0.3,
      adaptiveClip: { targetQuantile: 0.6 },
    });
    const config = parseRunConfig({
      rounds: 1,
      minClients: 3,
      server: s.server,
      training: { proximalMu: s.proximalMu },
      ddg: { noise: false, adaptiveClip: s.adaptiveClip },
      secagg: { maxColluders: 0 },
      selection: { clientsPerRound: 3 },
    });
    expect(serverOptimizerOf(config.server)).toEqual({ optimizer: 'fedadam', learningRate: 0.02, beta1: 0.8, beta2: 0.95, tau: 0.1 });
    expect(config.ddg.adaptiveClip).toEqual({ targetQuantile: 0.6, learningRate: 0.2 });
  });

  it('name nothing when no flag is given, and refuse what is out of range', () => {
    expect(parse()).toEqual({});
    expect(() => parse('--server-optimizer', 'adam')).toThrow("--server-optimizer must be one of fedavg, fedavgm, fedadam, fedyogi, fedadagrad, got 'adam'");
    expect(() => parse('--server-beta1', '1')).toThrow(/--server-beta1/);
    expect(() => parse('--adaptive-clip', '1.5')).toThrow(/--adaptive-clip/);
    expect(() => parse('--proximal-mu', '-1')).toThrow(/--proximal-mu/);
  });
});
