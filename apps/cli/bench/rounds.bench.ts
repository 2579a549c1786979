/**
 * Round latency with 20 and 100 Node clients (worker threads, real Socket.IO on loopback, the MNIST MLP:
 * d = 50 890, d' = 2^16), with and without DDG noise: wall time per round and per stage. The first stage
 * (AdvertiseKeys) includes the clients' local training; at 10 clients (issue 18 §3) each stage's share of the
 * round is reported too. Bytes per party per round, up (every upload: keys,
 * shares, the masked input at B bits a coordinate, unmasking) and down (the task with the model, the
 * neighbours' keys and shares), beside the masked input's own ceil(d'·B/8) bytes and the model's; the float16
 * download (task.modelEncoding) is run beside float32 at 20 clients, with the accuracy each reaches (issue 18 §1).
 */
import { readFileSync } from 'node:fs';
import type { ModelEncoding } from '@hushfl/protocol';
import { SECAGG_STAGES } from '@hushfl/secagg';
import { figure, type Figure } from '../../../bench/lib.ts';
import { runSimulation } from '../src/simulate/runSimulation.ts';

const BITS = 16;

export async function benchRounds(options: { quick?: boolean } = {}): Promise<Figure[]> {
  const figures: Figure[] = [];
  const runs: { clients: number; epsilon?: number; download: ModelEncoding }[] = [];
  // Issue 18 §3: 10 clients with the example model, each stage's share of the round.
  runs.push({ clients: 10, epsilon: 8, download: 'float32' });
  for (const clients of options.quick ? [20] : [20, 100]) {
    runs.push({ clients, download: 'float32' }, { clients, epsilon: 8, download: 'float32' });
    if (clients === 20) runs.push({ clients, download: 'float16' });
  }
  for (const { clients, epsilon, download } of runs) {
    const r = await runSimulation({
      clients,
      rounds: 2,
      ...(epsilon !== undefined ? { epsilon } : {}),
      // Below 15 parties γ = 0.1 at 2^-40 has no SecAgg+ parameters: an absolute bound of one colluder.
      ...(clients < 15 ? { maxColluders: 1 } : {}),
      bits: BITS,
      modelEncoding: download,
      workers: 2,
    });
    // d and the SecAgg dimension d' as the run planned them (its metrics file), not retyped here.
    const metrics = r.metricsFile ? (JSON.parse(readFileSync(r.metricsFile, 'utf8')) as { model: { dim: number; dimPadded: number } }) : null;
    if (!metrics) throw new Error('the simulation wrote no metrics file: no model dimensions to report bytes against');
    const { dim, dimPadded } = metrics.model;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const inputs = { clients, rounds: r.rounds.length, mechanism: epsilon === undefined ? 'none' : `ddg ε=${epsilon}`, bits: BITS, d: dim, download };
    figures.push(figure({ name: 'round-latency', inputs, value: mean(r.roundWallMs), unit: 'ms' }));
    const perParty = (f: (x: (typeof r.rounds)[number]) => number) => mean(r.rounds.map((x) => f(x) / Math.max(1, x.selected)));
    figures.push(figure({ name: 'bytes-up-per-party', inputs, value: perParty((x) => x.bytesUp), unit: 'bytes' }));
    figures.push(figure({ name: 'bytes-down-per-party', inputs, value: perParty((x) => x.bytesDown), unit: 'bytes' }));
    figures.push(figure({ name: 'masked-input-bytes', inputs, value: Math.ceil((dimPadded * BITS) / 8), unit: 'bytes' }));
    figures.push(figure({ name: 'model-download-bytes', inputs, value: (download === 'float16' ? 2 : 4) * dim, unit: 'bytes' }));
    figures.push(figure({ name: 'round-accuracy', inputs, value: 100 * (r.rounds.at(-1)?.accuracy ?? 0), unit: '%' }));
    const stageMs = (stage: string) => mean(r.rounds.map((x) => x.durationsMs[stage] ?? 0));
    const total = SECAGG_STAGES.reduce((sum, stage) => sum + stageMs(stage), 0);
    for (const stage of SECAGG_STAGES) {
      figures.push(figure({ name: `round-stage-${stage}`, inputs, value: stageMs(stage), unit: 'ms' }));
      figures.push(figure({ name: `round-stage-percent-${stage}`, inputs, value: (100 * stageMs(stage)) / Math.max(1, total), unit: '%' }));
    }
    process.stderr.write(`  rounds: ${clients} clients ${inputs.mechanism} ${download}: ${mean(r.roundWallMs).toFixed(0)} ms per round\n`);
  }
  return figures;
}
