/**
 * `hushfl secagg-params`: the SecAgg+ degree k and threshold t a run uses for n clients, dropout δ and
 * corruption γ (or at most C colluders), with its guarantee and abort probability (packages/secagg params.ts).
 */
import { SecAggError, chooseSecAggParams } from '@hushfl/secagg';
import { UsageError, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';

const rate = { range: 'in [0, 1)', ok: (v: number) => v >= 0 && v < 1 } as const;

const flags = {
  clients: { kind: 'int', required: true, help: 'parties per round n', range: 'in [3, 10^6]', ok: (v: number) => v >= 3 && v <= 1_000_000 },
  dropout: { kind: 'number', required: true, help: 'tolerated dropout rate δ', ...rate },
  corrupt: { kind: 'number', help: 'fraction γ of clients colluding with the coordinator (privacy at 2^-40)', ...rate },
  'max-colluders': { kind: 'int', help: 'an absolute bound C on colluding clients instead of γ', range: '>= 0', ok: (v: number) => v >= 0 },
  json: { kind: 'bool', help: 'print JSON' },
} as const satisfies FlagSpecs;

export const secaggParamsCommand: Command<typeof flags> = {
  name: 'secagg-params',
  summary: 'choose SecAgg+ k and t for n clients, dropout δ and corruption γ (or at most C colluders)',
  flags,
  run(f) {
    const maxColluders = f['max-colluders'];
    if (f.corrupt === undefined && maxColluders === undefined) throw new UsageError('--corrupt (in [0, 1)) or --max-colluders (>= 0) is required');
    const n = f.clients!;
    let p: ReturnType<typeof chooseSecAggParams>;
    try {
      p = chooseSecAggParams(n, { dropoutRate: f.dropout!, ...(f.corrupt !== undefined ? { corruptRate: f.corrupt } : {}), maxColluders });
    } catch (e) {
      if (e instanceof SecAggError) throw new UsageError(e.message);
      throw e;
    }
    const json = {
      k: p.neighbours,
      t: p.threshold,
      n: p.n,
      dropout: p.dropout,
      corrupt: p.corrupt,
      complete: p.complete,
      guarantee: p.guarantee,
      abortProbability: p.abortProbability,
      clientAbortProbability: p.clientAbortProbability,
      live: p.live,
    };
    const who =
      p.guarantee.kind === 'rate'
        ? `γ = ${p.guarantee.corruptRate} of the clients colluding, except with probability 2^-${p.guarantee.securityBits} per round`
        : `at most ${p.guarantee.maxColluders} colluding clients${f.corrupt !== undefined ? ' (--corrupt ignored)' : ''}`;
    const text = [
      `n = ${n}, δ = ${p.dropout}: k = ${p.neighbours}, t = ${p.threshold} (${p.complete ? 'complete graph' : 'sparse graph'})`,
      `privacy: no client's input is exposed to a coordinator with ${who}`,
      `liveness: the round aborts with probability <= ${p.abortProbability.toPrecision(3)} (a client lacks t surviving neighbours with ${p.clientAbortProbability.toPrecision(3)}${p.live ? '' : ', above the 2^-20 target'})`,
    ].join('\n');
    return { json, text };
  },
};
