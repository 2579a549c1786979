/** `hushfl sample dgauss`: a histogram of exact discrete Gaussian samples, from the mechanism's own sampler. */
import { DiscreteGaussianSampler, cryptoRandomWords, formatRational, parseRational, type Rational } from '@hushfl/ddp';
import { UsageError, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';

const flags = {
  sigma2: { kind: 'string', required: true, help: 'variance σ² as a rational P/Q or an integer' },
  count: { kind: 'int', required: true, help: 'number of samples', range: 'in [1, 100000000]', ok: (v: number) => v >= 1 && v <= 1e8 },
  json: { kind: 'bool', help: 'print JSON' },
} as const satisfies FlagSpecs;

export const sampleDgaussCommand: Command<typeof flags> = {
  name: 'sample dgauss',
  summary: 'draw exact samples from N_Z(0, σ²) (Canonne, Kamath & Steinke 2020)',
  flags,
  run(f) {
    let sigma2: Rational;
    try {
      sigma2 = parseRational(f.sigma2!);
    } catch {
      throw new UsageError(`--sigma2 must be a positive rational P/Q or integer, got '${f.sigma2}'`);
    }
    let sampler: DiscreteGaussianSampler;
    try {
      sampler = new DiscreteGaussianSampler(sigma2, cryptoRandomWords());
    } catch (err) {
      throw new UsageError(`--sigma2 must be in (0, 2^80) (σ below 2^40), got '${f.sigma2}': ${(err as Error).message}`);
    }
    const counts = new Map<number, number>();
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < f.count!; i++) {
      const v = sampler.sample();
      counts.set(v, (counts.get(v) ?? 0) + 1);
      sum += v;
      sumSq += v * v;
    }
    const keys = [...counts.keys()].sort((a, b) => a - b);
    const hist: Record<string, number> = {};
    for (const k of keys) hist[String(k)] = counts.get(k)!;
    const n = f.count!;
    const mean = sum / n;
    const variance = sumSq / n - mean * mean;
    const json = { sigma2: formatRational(sigma2), count: n, mean, variance, counts: hist };
    const width = 50;
    const peak = Math.max(...counts.values());
    const lines =
      keys.length <= 41
        ? keys.map((k) => `${String(k).padStart(6)} ${'#'.repeat(Math.round((counts.get(k)! / peak) * width))} ${counts.get(k)}`)
        : [`${keys.length} distinct values from ${keys[0]} to ${keys[keys.length - 1]} (use --json for all counts)`];
    return { json, text: [`N_Z(0, ${formatRational(sigma2)}): ${n} samples, mean ${mean.toFixed(4)}, variance ${variance.toFixed(4)}`, ...lines].join('\n') };
  },
};
