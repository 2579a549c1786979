/** `hushfl account ddg|dpsgd`: ε of a DDG run or of DP-SGD local training, from packages/ddp's accountants. */
import { DEFAULT_BETA, accountDdg, accountDpsgd, isPowerOfTwo, nextPowerOfTwo } from '@hushfl/ddp';
import { UsageError, atLeastOne, dimension, positive, unitHalfOpen, unitOpen, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';

const ddgFlags = {
  clip: { kind: 'number', required: true, help: 'L2 clip norm c', ...positive },
  gamma: { kind: 'number', required: true, help: 'grid granularity γ', ...positive },
  beta: { kind: 'number', help: `conditional rounding β, default e^-1/2 = ${DEFAULT_BETA.toFixed(4)}`, range: 'in [0, 1)', ok: (v: number) => v >= 0 && v < 1 },
  dim: { kind: 'int', required: true, help: "padded dimension d' (a power of two)", ...dimension },
  clients: { kind: 'int', required: true, help: 'clients whose noise is in each sum', ...atLeastOne },
  'local-stddev': { kind: 'number', required: true, help: 'local noise stddev σ, model units', ...positive },
  'sample-rate': { kind: 'number', help: 'Poisson client sampling rate q, default 1', ...unitHalfOpen },
  rounds: { kind: 'int', required: true, help: 'rounds T', range: '>= 0', ok: (v: number) => v >= 0 },
  delta: { kind: 'number', required: true, help: 'δ', ...unitOpen },
  json: { kind: 'bool', help: 'print JSON' },
} as const satisfies FlagSpecs;

export const accountDdgCommand: Command<typeof ddgFlags> = {
  name: 'account ddg',
  summary: 'ε of the distributed discrete Gaussian over T rounds (Kairouz et al. 2021)',
  flags: ddgFlags,
  run(f) {
    if (!isPowerOfTwo(f.dim!)) {
      throw new UsageError(`--dim must be the padded dimension, a power of two; got ${f.dim} (use ${nextPowerOfTwo(f.dim!)})`);
    }
    const r = accountDdg({
      clip: f.clip!,
      gamma: f.gamma!,
      beta: f.beta ?? DEFAULT_BETA,
      dimPadded: f.dim!,
      clients: f.clients!,
      localStddev: f['local-stddev']!,
      sampleRate: f['sample-rate'] ?? 1,
      rounds: f.rounds!,
      delta: f.delta!,
    });
    const json = {
      epsilon: r.epsilon,
      order: r.order,
      orders: r.orders,
      rdp: r.rdp,
      tau: r.tau,
      l2SensitivityGrid: r.l2SensitivityGrid,
      l1SensitivityGrid: r.l1SensitivityGrid,
    };
    const text = [
      `ε = ${r.epsilon.toFixed(4)} at δ = ${f.delta} (best RDP order ${r.order})`,
      `L2 sensitivity on the grid Δ₂ = ${r.l2SensitivityGrid.toFixed(3)}, τ = ${r.tau.toExponential(3)}`,
    ].join('\n');
    return { json, text };
  },
};

const dpsgdFlags = {
  'sample-rate': { kind: 'number', required: true, help: 'batch sampling rate q', ...unitHalfOpen },
  'noise-multiplier': { kind: 'number', required: true, help: 'noise multiplier z (σ/C)', ...positive },
  steps: { kind: 'int', required: true, help: 'optimizer steps', range: '>= 0', ok: (v: number) => v >= 0 },
  delta: { kind: 'number', required: true, help: 'δ', ...unitOpen },
  json: { kind: 'bool', help: 'print JSON' },
} as const satisfies FlagSpecs;

export const accountDpsgdCommand: Command<typeof dpsgdFlags> = {
  name: 'account dpsgd',
  summary: 'ε of DP-SGD (sampled Gaussian mechanism, Mironov et al. 2019)',
  flags: dpsgdFlags,
  run(f) {
    const r = accountDpsgd({ sampleRate: f['sample-rate']!, noiseMultiplier: f['noise-multiplier']!, steps: f.steps!, delta: f.delta! });
    return {
      json: { epsilon: r.epsilon, order: r.order, orders: r.orders, rdp: r.rdp },
      text: `ε = ${r.epsilon.toFixed(4)} at δ = ${f.delta} after ${f.steps} steps (best RDP order ${r.order})`,
    };
  },
};
