/** `hushfl calibrate ddg`: γ and local σ for a target (ε, δ) (Kairouz et al. 2021, §4.4). */
import { DEFAULT_BETA, DEFAULT_K_STDDEVS, calibrateDdg, clipCountGrid, countStddevFor, defaultClipCountNoise } from '@hushfl/ddp';
import { UsageError, atLeastOne, dimension, positive, unitHalfOpen, unitOpen, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';
import { forecastNoise } from '@hushfl/engine';

const flags = {
  epsilon: { kind: 'number', required: true, help: 'target ε over all rounds', ...positive },
  delta: { kind: 'number', required: true, help: 'δ', ...unitOpen },
  clients: { kind: 'int', required: true, help: 'expected clients per round n', ...atLeastOne },
  'min-clients': { kind: 'int', help: 'n_min: fewest parties whose noise a released round holds (default: clients)', ...atLeastOne },
  'sample-rate': { kind: 'number', help: 'Poisson client sampling rate q (or give --population)', ...unitHalfOpen },
  population: { kind: 'int', help: 'population N; q = clients/N', ...atLeastOne },
  rounds: { kind: 'int', required: true, help: 'rounds T', ...atLeastOne },
  dim: { kind: 'int', required: true, help: 'model dimension d (padded to a power of two)', ...dimension },
  clip: { kind: 'number', required: true, help: 'L2 clip norm c', ...positive },
  bits: { kind: 'int', required: true, help: 'bits B of the SecAgg ring', range: 'in [1, 32]', ok: (v: number) => v >= 1 && v <= 32 },
  beta: { kind: 'number', help: `conditional rounding β (default ${DEFAULT_BETA.toFixed(4)})`, range: 'in [0, 1)', ok: (v: number) => v >= 0 && v < 1 },
  'k-stddevs': { kind: 'number', help: `standard deviations of modular headroom (default ${DEFAULT_K_STDDEVS})`, ...positive },
  'adaptive-clip': {
    kind: 'bool',
    help: "with adaptive clipping's noisy clipped count beside each update (Andrew et al. 2021): σ_b = n/20, or more where that would spend over a tenth of ε, unless --count-noise",
  },
  'count-noise': { kind: 'number', help: "σ_b: the clipped count's noise in contributions (implies --adaptive-clip)", ...positive },
  json: { kind: 'bool', help: 'print JSON' },
} as const satisfies FlagSpecs;

export const calibrateDdgCommand: Command<typeof flags> = {
  name: 'calibrate ddg',
  summary: 'choose γ and the local noise σ for a target ε',
  flags,
  run(f) {
    let sampleRate = f['sample-rate'];
    if (f.population !== undefined) {
      if (sampleRate !== undefined) throw new UsageError('give either --sample-rate or --population, not both');
      if (f.population < f.clients!) throw new UsageError(`--population must be >= --clients (${f.clients}), got ${f.population}`);
      sampleRate = f.clients! / f.population;
    }
    if (sampleRate === undefined) throw new UsageError('--sample-rate (in (0, 1]) or --population (>= clients) is required');
    const minClients = f['min-clients'] ?? f.clients!;
    const adaptive = f['adaptive-clip'] || f['count-noise'] !== undefined;
    const countNoise = !adaptive
      ? undefined
      : f['count-noise'] !== undefined
        ? countStddevFor(f['count-noise'], minClients)
        : defaultClipCountNoise({ epsilon: f.epsilon!, delta: f.delta!, clients: f.clients!, minClients, sampleRate, rounds: f.rounds! });
    const cal = calibrateDdg({
      epsilon: f.epsilon!,
      delta: f.delta!,
      clients: f.clients!,
      minClients,
      sampleRate,
      rounds: f.rounds!,
      dim: f.dim!,
      clip: f.clip!,
      bits: f.bits!,
      beta: f.beta ?? DEFAULT_BETA,
      kStddevs: f['k-stddevs'] ?? DEFAULT_K_STDDEVS,
      ...(countNoise !== undefined ? clipCountGrid(countNoise) : {}),
    });
    // The utility forecast (issue 16 §3), as the dashboard shows it: the released mean's noise against the clip.
    const forecast = forecastNoise({
      parties: cal.clients,
      divisor: cal.clients,
      localStddev: cal.localStddev,
      gamma: cal.gamma,
      dim: f.dim!,
      clip: cal.clip,
      minClients: cal.minClients,
      epsilon: f.epsilon!,
      rounds: cal.rounds,
    });
    const text = [
      `γ = ${cal.gamma.toPrecision(6)}, local σ = ${cal.localStddev.toPrecision(6)} (σ/γ = ${cal.gridStddev.toPrecision(6)} on the grid)`,
      `ε = ${cal.epsilon.toFixed(4)} at δ = ${cal.delta} with n_min = ${cal.minClients} parties (order ${cal.order}); d' = ${cal.dimPadded}`,
      `the aggregate of ${cal.clients} clients keeps ${cal.headroomStddevs.toFixed(2)} standard deviations inside 2^${cal.bits}`,
      ...(cal.countStddev !== null
        ? [
            `adaptive clipping: the count's noise σ_b = ${((Math.sqrt(cal.minClients) * cal.countStddev) / (2 * cal.countScale!)).toPrecision(4)} contributions (±${cal.countScale} with grid noise ${cal.countStddev.toPrecision(4)} per party); ` +
              `alone the update spends ε = ${cal.modelEpsilon.toFixed(4)}, the count ε = ${cal.countEpsilon!.toFixed(4)}; σ without the count ${cal.localStddevWithoutCount.toPrecision(6)}`,
          ]
        : []),
      `forecast: ${forecast.message} (noise ${forecast.noiseStddev.toExponential(2)} per weight, norm ${forecast.noiseNorm.toPrecision(3)} at ${cal.clients} parties)`,
    ].join('\n');
    return { json: { ...cal, forecast }, text };
  },
};
