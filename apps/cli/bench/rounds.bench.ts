/**
 * Round latency with 20 and 100 Node clients (worker threads, real Socket.IO on loopback, the MNIST MLP:
 * d = 50 890, d' = 2^16), with and without DDG noise: wall time per round and per stage. The first stage
 * (AdvertiseKeys) includes the clients' local training.
 */
import { SECAGG_STAGES } from '@hushfl/secagg';
import { figure, type Figure } from '../../../bench/lib.ts';
import { runSimulation } from '../src/simulate/runSimulation.ts';

export async function benchRounds(options: { quick?: boolean } = {}): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const clients of options.quick ? [20] : [20, 100]) {
    for (const epsilon of [undefined, 8]) {
      const r = await runSimulation({ clients, rounds: 2, ...(epsilon !== undefined ? { epsilon } : {}), workers: 2 });
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      const inputs = { clients, rounds: r.rounds.length, mechanism: epsilon === undefined ? 'none' : `ddg ε=${epsilon}`, bits: 16, d: 50_890 };
      figures.push(figure({ name: 'round-latency', inputs, value: mean(r.roundWallMs), unit: 'ms' }));
      for (const stage of SECAGG_STAGES) {
        figures.push(figure({ name: `round-stage-${stage}`, inputs, value: mean(r.rounds.map((x) => x.durationsMs[stage] ?? 0)), unit: 'ms' }));
      }
      process.stderr.write(`  rounds: ${clients} clients ${inputs.mechanism}: ${mean(r.roundWallMs).toFixed(0)} ms per round\n`);
    }
  }
  return figures;
}
