/**
 * The run's strategy on the dashboard (issue 15): the server optimizer, FedProx's μ and adaptive clipping —
 * what a run uses, how its clip moved, and how its noise budget is split between the update and the clipped
 * count — and a picker that writes them into the config of the next run (strategyConfig.ts).
 */
import type { ServerOptimizerKind } from '@hushfl/protocol';
import type { RoundRow, RunRow } from './api.ts';
import { Chart } from './Chart.tsx';
import { defaultServerLearningRate, SERVER_OPTIMIZERS, type StrategyChoice, strategyOf, withStrategy } from './strategyConfig.ts';

const fmt = (v: number) => (Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? Number(v.toPrecision(3)).toString() : v.toExponential(2));

function optimizerLine(s: RunRow['strategy']['server']): string {
  const { optimizer, learningRate, beta1, beta2, tau } = s;
  if (optimizer === 'fedavg') return `fedavg (η = ${fmt(learningRate)})`;
  if (optimizer === 'fedavgm') return `fedavgm (η = ${fmt(learningRate)}, momentum β1 = ${fmt(beta1)})`;
  return `${optimizer} (η = ${fmt(learningRate)}, β1 = ${fmt(beta1)}${optimizer === 'fedadagrad' ? '' : `, β2 = ${fmt(beta2)}`}, τ = ${fmt(tau)})`;
}

export function StrategyCard({ run, rounds }: { run: RunRow; rounds: readonly RoundRow[] }) {
  const s = run.strategy;
  const a = s.adaptiveClip;
  const split = run.ddg.clipCount;
  const released = rounds.filter((r) => r.state === 'completed' && r.clip != null);
  const latest = released.at(-1);
  return (
    <div className="card" data-testid="strategy">
      <h2>Strategy</h2>
      <dl>
        <dt title="Applied to each round's released mean: post-processing, no privacy cost (Reddi et al. 2021)">Server optimizer</dt>
        <dd data-testid="strategy-optimizer">{optimizerLine(s.server)}</dd>
        <dt title="(μ/2)·‖w − w_global‖² added to each client's local objective (Li et al. 2020); not clipped under DP-SGD: it reads no example">FedProx μ</dt>
        <dd data-testid="strategy-proximal">{s.proximalMu > 0 ? fmt(s.proximalMu) : 'off'}</dd>
        <dt>Clip</dt>
        <dd data-testid="strategy-clip">
          {a
            ? `adaptive: the ${a.targetQuantile} quantile of update norms (η_C = ${fmt(a.learningRate)}), from ${fmt(a.initialClip)}${latest ? `; round ${latest.round + 1}: C = ${fmt(latest.clip!)}, ${latest.clip_fraction == null ? '—' : `${(latest.clip_fraction * 100).toFixed(0)} %`} within` : ''}`
            : `fixed at ${run.ddg.params.clip}`}
        </dd>
        {split && (
          <>
            <dt title="Each round releases the noisy update sum and the noisy clipped count together; the accountant composes their RDP (Andrew et al. 2021, §3)">
              Noise split
            </dt>
            <dd data-testid="noise-split">
              update σ = {run.ddg.params.localStddev.toExponential(3)}
              {split.localStddevWithoutCount !== null ? ` (${split.localStddevWithoutCount.toExponential(3)} with a fixed clip)` : ''}; count σ_b ={' '}
              {fmt(split.countNoise)} contributions
              {split.modelEpsilon !== null && split.countEpsilon !== null
                ? `; alone, the update would spend ε = ${split.modelEpsilon.toFixed(3)} and the count ε = ${split.countEpsilon.toFixed(3)}`
                : split.countEpsilon !== null
                  ? `; the count alone spends ε = ${split.countEpsilon.toFixed(3)}`
                  : ''}
            </dd>
          </>
        )}
      </dl>
      {a && released.length > 0 && (
        <Chart
          title="Clip C_t"
          x={released.map((r) => r.round + 1)}
          series={[{ label: 'C_t', values: released.map((r) => r.clip ?? null), color: '#7a5af5' }]}
          yLabel="norm"
          testId="chart-clip"
        />
      )}
    </div>
  );
}

/** Form controls over the config text: each change rewrites it (withStrategy); a config that does not parse is left alone. */
export function StrategyPicker({ config, onChange, onError }: { config: string; onChange: (text: string) => void; onError: (e: unknown) => void }) {
  const current = strategyOf(config);
  if (!current) return <p className="muted">Strategy: the config above does not parse as a mapping; fix it to pick a strategy here.</p>;
  const set = (patch: Partial<StrategyChoice>) => {
    try {
      onChange(withStrategy(config, { ...current, ...patch }));
    } catch (e) {
      onError(e);
    }
  };
  const positive = (text: string, apply: (v: number) => void) => {
    const v = Number(text);
    if (text !== '' && Number.isFinite(v) && v >= 0) apply(v);
  };
  return (
    <fieldset className="strategy" data-testid="strategy-picker">
      <legend>Strategy</legend>
      <label>
        Server optimizer{' '}
        <select
          value={current.optimizer}
          onChange={(e) => {
            const optimizer = e.target.value as ServerOptimizerKind;
            set({ optimizer, learningRate: defaultServerLearningRate(optimizer) });
          }}
          data-testid="server-optimizer"
        >
          {SERVER_OPTIMIZERS.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      </label>{' '}
      <label>
        η{' '}
        <input
          type="number"
          step="any"
          min="0"
          value={current.learningRate}
          onChange={(e) => positive(e.target.value, (v) => v > 0 && set({ learningRate: v }))}
          data-testid="server-lr"
        />
      </label>{' '}
      <label>
        FedProx μ{' '}
        <input
          type="number"
          step="any"
          min="0"
          value={current.proximalMu}
          onChange={(e) => positive(e.target.value, (v) => set({ proximalMu: v }))}
          data-testid="proximal-mu"
        />
      </label>{' '}
      <label>
        <input
          type="checkbox"
          checked={current.adaptiveQuantile !== null}
          onChange={(e) => set({ adaptiveQuantile: e.target.checked ? 0.5 : null })}
          data-testid="adaptive-clip"
        />{' '}
        Adaptive clip to quantile{' '}
        <input
          type="number"
          step="0.05"
          min="0.05"
          max="0.95"
          disabled={current.adaptiveQuantile === null}
          value={current.adaptiveQuantile ?? 0.5}
          onChange={(e) => positive(e.target.value, (v) => v > 0 && v < 1 && set({ adaptiveQuantile: v }))}
          data-testid="adaptive-quantile"
        />
      </label>
    </fieldset>
  );
}
