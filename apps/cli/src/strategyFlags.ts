/**
 * The strategy flags (issue 15) that `hushfl simulate` and `hushfl experiment utility` share: the server
 * optimizer and its hyperparameters (Reddi et al. 2021), FedProx's μ and adaptive clipping's target quantile.
 * They map onto the run config's `server`, `training.proximalMu` and `ddg.adaptiveClip`.
 */
import { SERVER_OPTIMIZERS, type ServerConfigInput, type ServerOptimizerKind } from '@hushfl/protocol';
import { UsageError, positive, unitOpen, type FlagSpecs, type ParsedFlags } from './args.ts';

const beta = { range: 'in [0, 1)', ok: (v: number) => v >= 0 && v < 1 } as const;

export const strategyFlags = {
  'server-optimizer': { kind: 'string', help: `server optimizer: ${SERVER_OPTIMIZERS.join(', ')} (default fedavg)` },
  'server-lr': { kind: 'number', help: 'server learning rate η (default 1; about 0.01 suits fedadam and fedyogi)', ...positive },
  'server-beta1': { kind: 'number', help: 'β1: first-moment decay (FedAvgM: its momentum; default 0.9)', ...beta },
  'server-beta2': { kind: 'number', help: 'β2: second-moment decay of fedadam and fedyogi (default 0.99)', ...beta },
  'server-tau': { kind: 'number', help: 'τ: adaptivity of fedadam, fedyogi and fedadagrad (default 0.001)', ...positive },
  'proximal-mu': { kind: 'number', help: "FedProx's μ: (μ/2)·‖w − w_global‖² in the local objective (default 0)", range: '>= 0', ok: (v: number) => v >= 0 },
  'adaptive-clip': { kind: 'number', help: 'adaptive clipping to this quantile of update norms (e.g. 0.5; default: a fixed clip)', ...unitOpen },
} as const satisfies FlagSpecs;

export interface Strategy {
  readonly server?: ServerConfigInput;
  readonly proximalMu?: number;
  readonly adaptiveClip?: { readonly targetQuantile: number };
}

/** The strategy the flags name (fields only for flags given). */
export function strategyFromFlags(f: Partial<ParsedFlags<typeof strategyFlags>>): Strategy {
  const name = f['server-optimizer'];
  if (name !== undefined && !(SERVER_OPTIMIZERS as readonly string[]).includes(name))
    throw new UsageError(`--server-optimizer must be one of ${SERVER_OPTIMIZERS.join(', ')}, got '${name}'`);
  const server: ServerConfigInput = {
    ...(name !== undefined ? { optimizer: name as ServerOptimizerKind } : {}),
    ...(f['server-lr'] !== undefined ? { learningRate: f['server-lr'] } : {}),
    ...(f['server-beta1'] !== undefined ? { beta1: f['server-beta1'] } : {}),
    ...(f['server-beta2'] !== undefined ? { beta2: f['server-beta2'] } : {}),
    ...(f['server-tau'] !== undefined ? { tau: f['server-tau'] } : {}),
  };
  return {
    ...(Object.keys(server).length ? { server } : {}),
    ...(f['proximal-mu'] !== undefined ? { proximalMu: f['proximal-mu'] } : {}),
    ...(f['adaptive-clip'] !== undefined ? { adaptiveClip: { targetQuantile: f['adaptive-clip'] } } : {}),
  };
}
