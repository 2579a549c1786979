/**
 * The operator dashboard: start and steer a run, and watch it live — the round timeline with each SecAgg
 * stage's duration, who was selected, finished or dropped (and where), accuracy and loss, ε spent against the
 * budget, bytes moved, the noise and precision in force, and the strategy (Strategy.tsx). Errors from the
 * coordinator are shown.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { parse as parseYaml } from 'yaml';
import { ApiError, OperatorApi, type RoundRow, type RunRow } from './api.ts';
import { Chart } from './Chart.tsx';
import { Invites } from './Invites.tsx';
import { Join, joinUrl } from './Join.tsx';
import { type LayersModelSpec, ModelUpload, withUploadedModel } from './ModelUpload.tsx';
import type { Status } from '@hushfl/protocol';
// The stage table alone, without the SecAgg crypto code.
import { describeSecAggGuarantee } from '@hushfl/secagg/params';
import { EXAMPLE_CONFIG } from './exampleConfig.ts';
import { StrategyCard, StrategyPicker } from './Strategy.tsx';
import { Forecast } from './Forecast.tsx';
import { SECAGG_STAGE_TABLE } from '@hushfl/secagg/stages';

/** Colours of the stages, by position in the stage table. */
const STAGE_PALETTE = ['#3a7bd5', '#7a5af5', '#e08e0b', '#2aa876', '#d64545'];
const stageColour = (position: number) => STAGE_PALETTE[position % STAGE_PALETTE.length];

interface LiveStage {
  phase: 'open' | 'closed';
  durationMs?: number;
  dropped: string[];
}

const fmtBytes = (b: number) => (b > 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(0)} KiB`);

export function App() {
  const [token, setToken] = useState('');
  const [api, setApi] = useState<OperatorApi | null>(null);
  const [status, setStatus] = useState<Status | null>(null);
  const [servedUrls, setServedUrls] = useState<string[]>([]);
  const [runs, setRuns] = useState<RunRow[]>([]);
  const [runId, setRunId] = useState<string | null>(null);
  const [rounds, setRounds] = useState<RoundRow[]>([]);
  const [live, setLive] = useState<{ round: number; attempt: number; stages: Record<string, LiveStage> } | null>(null);
  const [errors, setErrors] = useState<string[]>([]);
  const [config, setConfig] = useState(EXAMPLE_CONFIG);
  const [uploadedModel, setUploadedModel] = useState<LayersModelSpec | null>(null);
  const [picked, setPicked] = useState<number | null>(null);
  const [connected, setConnected] = useState(false);

  const fail = useCallback((e: unknown) => setErrors((xs) => [...xs.slice(-4), e instanceof Error ? e.message : String(e)]), []);

  const refresh = useCallback(
    async (a: OperatorApi, id?: string | null) => {
      try {
        const [s, rs] = await Promise.all([a.status(), a.runs()]);
        setStatus(s);
        setRuns(rs);
        const target = id ?? s.runId ?? rs[0]?.id ?? null;
        setRunId(target);
        setRounds(target ? await a.rounds(target) : []);
      } catch (e) {
        fail(e);
      }
    },
    [fail],
  );

  const login = async () => {
    const a = new OperatorApi(location.origin, token.trim());
    try {
      await a.status();
    } catch (e) {
      fail(e instanceof ApiError && e.status === 401 ? new Error('The coordinator refused this operator token.') : e);
      return;
    }
    setErrors([]);
    setApi(a);
  };

  useEffect(() => {
    if (!api) return;
    void refresh(api);
    api.joinUrls().then((j) => setServedUrls(j.urls), fail);
    const socket = api.live();
    socket.on('connect', () => setConnected(true));
    socket.on('disconnect', () => setConnected(false));
    socket.on('connect_error', (e) => fail(new Error(`live events: ${e.message}`)));
    socket.on('status', (s: Status) => setStatus(s));
    socket.on('clients', (e: { connected: number }) => setStatus((s) => (s ? { ...s, clientsConnected: e.connected } : s)));
    socket.on('round-start', (e: { round: number; attempt: number }) => setLive({ round: e.round, attempt: e.attempt, stages: {} }));
    socket.on('stage', (e: { round: number; attempt: number; stage: string; phase: 'open' | 'closed'; dropped: string[]; durationMs?: number }) =>
      setLive((l) => {
        const base = l && l.round === e.round && l.attempt === e.attempt ? l : { round: e.round, attempt: e.attempt, stages: {} };
        return {
          ...base,
          stages: { ...base.stages, [e.stage]: { phase: e.phase, dropped: e.dropped, ...(e.durationMs !== undefined ? { durationMs: e.durationMs } : {}) } },
        };
      }),
    );
    socket.on('round', (e: { status: string; round: number; error: string | null }) => {
      if (e.status === 'aborted') fail(new Error(`Round ${e.round + 1} aborted: ${e.error}`));
      void refresh(api);
    });
    socket.on('run', () => void refresh(api));
    const timer = setInterval(() => void refresh(api, null), 15_000);
    return () => {
      socket.close();
      clearInterval(timer);
    };
  }, [api, refresh, fail]);

  const run = runs.find((r) => r.id === runId) ?? null;
  const completed = useMemo(() => rounds.filter((r) => r.state === 'completed'), [rounds]);
  const xs = useMemo(() => completed.map((r) => r.round + 1), [completed]);
  const accuracySeries = useMemo(
    () => [
      { label: 'accuracy', values: completed.map((r) => r.accuracy), color: '#3a7bd5' },
      { label: 'loss', values: completed.map((r) => r.loss), color: '#d64545' },
    ],
    [completed],
  );
  const budget = run?.ddg.epsilonBudget ?? null;
  // ε is spent by every charged attempt — released, or aborted after its unmask requests went out.
  const latestPrivacy = useMemo(() => rounds.filter((r) => r.epsilon !== null).at(-1), [rounds]);
  const epsilonSeries = useMemo(
    () => [
      { label: 'ε spent', values: completed.map((r) => r.epsilon), color: '#2aa876' },
      ...(budget !== null ? [{ label: 'budget', values: completed.map(() => budget), color: '#999', dash: [6, 4] }] : []),
    ],
    [completed, budget],
  );

  if (!api) {
    return (
      <main className="dash">
        <h1>hushfl operator dashboard</h1>
        <div className="card login">
          <label>
            Operator token{' '}
            <input
              type="password"
              value={token}
              onChange={(e) => setToken(e.target.value)}
              onKeyDown={(e) => e.key === 'Enter' && void login()}
              data-testid="token"
            />
          </label>
          <button type="button" onClick={() => void login()} data-testid="login">
            Open
          </button>
          <p className="muted">
            The token is printed by <code>hushfl start</code>; it stays in this tab's memory only.
          </p>
        </div>
        {errors.map((e, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: errors are only appended, so an index names one for good
          <div key={i} className="notice error" data-testid="error">
            {e}
          </div>
        ))}
      </main>
    );
  }

  const act = (action: 'pause' | 'resume' | 'stop') => run && api.control(run.id, action).then(() => refresh(api, run.id), fail);
  const startRun = async () => {
    let parsed: unknown;
    try {
      parsed = parseYaml(config);
    } catch (e) {
      fail(new Error(`The config is not valid YAML/JSON: ${(e as Error).message}`));
      return;
    }
    try {
      const { runId: id } = await api.start(withUploadedModel(parsed, uploadedModel));
      setLive(null);
      await refresh(api, id);
    } catch (e) {
      fail(e);
    }
  };
  const bytes = rounds.reduce((s, r) => s + r.bytes_up + r.bytes_down, 0);
  const lastCompleted = completed.at(-1);
  const active = status?.runId === runId && ['running', 'waiting', 'paused'].includes(status?.state ?? '');
  const detail = picked === null ? null : (rounds[picked] ?? null);

  return (
    <main className="dash">
      <header>
        <h1>hushfl operator dashboard</h1>
        <span className={`dot ${connected ? 'connected' : 'unreachable'}`} data-testid="live">
          {connected ? 'live' : 'offline'}
        </span>
      </header>
      {errors.map((e, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: errors are only appended, so an index names one for good
        <div key={i} className="notice error" data-testid="error">
          {e}
        </div>
      ))}
      <section className="grid3">
        <div className="card">
          <h2>Run</h2>
          <dl>
            <dt>Run</dt>
            <dd data-testid="run-id">{run?.id ?? 'none'}</dd>
            <dt>State</dt>
            <dd data-testid="run-state">{active ? status?.state : (run?.state ?? '—')}</dd>
            <dt>Round</dt>
            <dd data-testid="run-round">{run ? `${completed.length} / ${status?.runId === run.id ? status.rounds : '?'}` : '—'}</dd>
            <dt>Clients online</dt>
            <dd data-testid="clients">
              {status?.clientsConnected ?? 0}
              {status?.simulatedDevices ? ` (${status.simulatedDevices} simulated devices on the coordinator's machine)` : ''}
            </dd>
            {active && status?.state === 'waiting' && status.message && (
              <>
                <dt>Waiting</dt>
                <dd data-testid="waiting-reason">{status.message}</dd>
              </>
            )}
            {active && status?.excluded !== undefined && (
              <>
                <dt title="Parties excluded for the rest of the run: proven wrong shares, share boxes that did not open, invalid messages, or silent after liveness probes">
                  Excluded
                </dt>
                <dd data-testid="excluded">{status.excluded}</dd>
              </>
            )}
            {run?.reason && (
              <>
                <dt>{run.state === 'paused' ? 'Paused' : 'Ended'}</dt>
                <dd data-testid="run-reason">{run.reason}</dd>
              </>
            )}
          </dl>
          <div className="buttons">
            <button type="button" disabled={!active || status?.state === 'paused'} onClick={() => void act('pause')} data-testid="pause">
              Pause
            </button>
            <button
              type="button"
              // A paused run, or a failed or stopped one (the coordinator says why when that is not safe).
              disabled={active ? status?.state !== 'paused' : run?.state !== 'failed' && run?.state !== 'stopped'}
              onClick={() => void act('resume')}
              data-testid="resume"
            >
              Resume
            </button>
            <button type="button" className="danger" disabled={!active} onClick={() => void act('stop')} data-testid="stop">
              Stop
            </button>
          </div>
        </div>
        <div className="card">
          <h2>Privacy</h2>
          <dl>
            <dt title="Accounted at n = the parties (connections with their own keys) in each sum, never their mini-clients; charged when a round's unmask requests go out">
              ε spent
            </dt>
            <dd data-testid="epsilon">
              {latestPrivacy?.epsilon?.toFixed(3) ?? (run?.ddg.params.localStddev === 0 ? '∞ (no noise)' : '0')}
              {budget !== null ? ` of ${budget}` : ''}{' '}
              {run
                ? `(δ = ${run.ddg.delta}${latestPrivacy?.delta_selection ? ` + ${latestPrivacy.delta_selection.toExponential(2)} for redrawn samples` : ''})`
                : ''}
            </dd>
            {run && run.ddg.sampleRate < 1 && (
              <>
                <dt title="The coordinator draws the sample and sees who took part: sampling does not amplify against it">ε vs coordinator</dt>
                <dd data-testid="epsilon-coordinator">{latestPrivacy?.epsilon_coordinator?.toFixed(3) ?? '0'}</dd>
              </>
            )}
            <dt>Bits B</dt>
            <dd data-testid="bits">{run?.ddg.params.bits ?? '—'}</dd>
            <dt>Grid γ</dt>
            <dd>{run?.ddg.params.gamma.toExponential(3) ?? '—'}</dd>
            <dt>Local σ</dt>
            <dd data-testid="sigma">{run ? run.ddg.params.localStddev.toExponential(3) : '—'}</dd>
            <dt title="Each client's noise in grid steps: at least 1/2, the precondition of the DDG bound">σ/γ (grid)</dt>
            <dd>{run && run.ddg.params.localStddev > 0 ? (run.ddg.params.localStddev / run.ddg.params.gamma).toFixed(1) : '—'}</dd>
            <dt>Clip c, d′</dt>
            <dd>{run ? `${run.ddg.params.clip}, ${run.ddg.dimPadded}` : '—'}</dd>
            <dt title="Secure aggregation hides each update unless 2t − k of a client's k neighbours collude with the coordinator (docs/PRIVACY.md)">
              SecAgg guarantee
            </dt>
            <dd data-testid="secagg-guarantee">{run ? describeSecAggGuarantee(run.secagg.guarantee) : '—'}</dd>
            <dt title="At the expected parties per round n; the abort bound is liveness: a round aborts when a client keeps fewer than t surviving neighbours">
              SecAgg k, t (n)
            </dt>
            <dd data-testid="secagg-params">
              {run
                ? run.secagg.error
                  ? `none: ${run.secagg.error}`
                  : `k = ${run.secagg.k}, t = ${run.secagg.t} (n = ${run.secagg.n}${run.secagg.complete ? ', complete graph' : ''}); abort ≤ ${run.secagg.abortProbability!.toPrecision(2)}`
                : '—'}
            </dd>
          </dl>
          {budget !== null && (
            <div className="bar-track" title="ε spent against the budget">
              <div className="bar-fill" style={{ width: `${Math.min(100, ((latestPrivacy?.epsilon ?? 0) / budget) * 100)}%` }} />
            </div>
          )}
        </div>
        <div className="card">
          <h2>Traffic</h2>
          <dl>
            <dt>Bytes moved</dt>
            <dd data-testid="bytes">{fmtBytes(bytes)}</dd>
            <dt title="The last completed round's bytes over its parties: masked inputs at B bits a coordinate up, the model down">Per party, last round</dt>
            <dd data-testid="bytes-per-party">
              {lastCompleted
                ? `${fmtBytes(lastCompleted.bytes_up / lastCompleted.selected)} up, ${fmtBytes(lastCompleted.bytes_down / lastCompleted.selected)} down`
                : '—'}
            </dd>
            <dt>Rounds completed</dt>
            <dd>{completed.length}</dd>
            <dt>Attempts aborted</dt>
            <dd data-testid="aborted">{rounds.filter((r) => r.state === 'aborted').length}</dd>
          </dl>
          <div className="buttons">
            <button
              type="button"
              className="secondary"
              disabled={!run}
              onClick={() => run && api.download(`/api/runs/${run.id}/metrics`, 'server_metrics.json').catch(fail)}
              data-testid="download-metrics"
            >
              Metrics JSON
            </button>
            <button
              type="button"
              className="secondary"
              disabled={!run}
              onClick={() => run && api.download(`/api/runs/${run.id}/model`, `${run.id}.f32`).catch(fail)}
              data-testid="download-model"
            >
              Latest model
            </button>
          </div>
        </div>
      </section>

      {live && active && (
        <section className="card" data-testid="live-round">
          <h2>
            Round {live.round + 1} (attempt {live.attempt}) — live
          </h2>
          <div className="stages">
            {SECAGG_STAGE_TABLE.map(({ stage, displayName }, position) => {
              const st = live.stages[stage];
              return (
                <div key={stage} className={`stage ${st?.phase ?? 'pending'}`} style={{ borderColor: stageColour(position) }}>
                  <b>{displayName}</b>
                  <span>{st ? (st.phase === 'open' ? 'running…' : `${st.durationMs} ms`) : '—'}</span>
                  {st?.dropped.length ? <span className="dropped">dropped {st.dropped.length}</span> : null}
                </div>
              );
            })}
          </div>
        </section>
      )}

      {run && (
        <section className="grid2">
          <StrategyCard run={run} rounds={rounds} />
        </section>
      )}

      <section className="grid2">
        <div className="card">
          <Chart title="Accuracy and loss" x={xs} series={accuracySeries} yLabel="" testId="chart-accuracy" />
        </div>
        <div className="card">
          <Chart title="ε spent (client level)" x={xs} series={epsilonSeries} yLabel="ε" testId="chart-epsilon" />
        </div>
      </section>

      <section className="card">
        <h2>Rounds</h2>
        <table className="rounds" data-testid="rounds">
          <thead>
            <tr>
              <th>Round</th>
              <th>Status</th>
              <th title="Contributions (mini-clients) in the sum / parties selected; n_min and ε count parties">Contributions / parties</th>
              <th>Dropped (stage)</th>
              <th>Stage durations</th>
              <th title="The coordinator's own held-out set (— without one: with data: local there may be none)">Accuracy</th>
              <th title="Federated evaluation: Σ correct / Σ examples of the model this round started from (the previous round's) on its parties' held-out splits, decoded from the securely aggregated, DDG-noised sum; no client's own figure reaches the coordinator">
                Federated accuracy
              </th>
              <th>ε</th>
            </tr>
          </thead>
          <tbody>
            {rounds.map((r, i) => {
              const total = SECAGG_STAGE_TABLE.reduce((s, { stage }) => s + (r.durations[stage] ?? 0), 0) || 1;
              const dropped = Object.entries(r.dropped);
              return (
                <tr key={`${r.round}-${r.attempt}`} className={r.state} onClick={() => setPicked(i)} data-testid="round-row">
                  <td>
                    {r.round + 1}
                    {r.attempt > 1 ? ` (attempt ${r.attempt})` : ''}
                  </td>
                  <td title={r.error ?? ''}>{r.state}</td>
                  <td>
                    {r.contributions ?? '—'} / {r.selected}
                  </td>
                  <td data-testid="dropped">{dropped.length ? dropped.map(([c, s]) => `${c.slice(0, 6)}… (${s})`).join(', ') : '—'}</td>
                  <td>
                    {/* The title names stages by their wire names: the browser suite reads it. */}
                    <div className="timeline" title={SECAGG_STAGE_TABLE.map(({ stage }) => `${stage}: ${r.durations[stage] ?? 0} ms`).join('\n')}>
                      {SECAGG_STAGE_TABLE.map(({ stage }, position) => (
                        <span key={stage} style={{ width: `${((r.durations[stage] ?? 0) / total) * 100}%`, background: stageColour(position) }} />
                      ))}
                    </div>
                  </td>
                  <td>{r.accuracy === null ? '—' : `${(r.accuracy * 100).toFixed(1)} %`}</td>
                  <td
                    data-testid="federated-accuracy"
                    title={
                      r.federated_examples == null
                        ? ''
                        : `≈ ${Math.round(r.federated_examples)} held-out examples (noisy total)${r.federated_loss == null ? '' : `, loss ${r.federated_loss.toFixed(3)}`}${r.federated_train_accuracy == null ? '' : `; training accuracy ${(r.federated_train_accuracy * 100).toFixed(1)} %`}`
                    }
                  >
                    {r.federated_accuracy == null ? '—' : `${(r.federated_accuracy * 100).toFixed(1)} %`}
                  </td>
                  <td>{r.epsilon === null ? '—' : r.epsilon.toFixed(3)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <p className="legend">
          {SECAGG_STAGE_TABLE.map(({ stage, displayName }, position) => (
            <span key={stage}>
              <i style={{ background: stageColour(position) }} /> {displayName}
            </span>
          ))}
        </p>
        {detail && (
          <div className="detail" data-testid="round-detail">
            <h3>
              Round {detail.round + 1}, attempt {detail.attempt}: participants
            </h3>
            {detail.error && <div className="notice warn">{detail.error}</div>}
            {detail.excused && (
              <div className="notice" data-testid="round-excused">
                Not counted toward maxAttempts: {detail.excused}
              </div>
            )}
            <ul>
              {detail.participants.map((p) => (
                <li key={p.client_id}>
                  <code>{p.client_id}</code> × {p.contributions}: {p.status}
                  {p.dropped_stage ? ` at ${p.dropped_stage}` : ''}
                </li>
              ))}
            </ul>
          </div>
        )}
      </section>

      <section className="grid2">
        <div className="card">
          <h2>Start a run</h2>
          <label>
            Saved configurations{' '}
            <select
              onChange={(e) => {
                const id = e.target.value;
                if (id) void api.run(id).then((r) => setConfig(JSON.stringify(r.config, null, 2)), fail);
              }}
              defaultValue=""
              data-testid="saved-configs"
            >
              <option value="">(example)</option>
              {runs.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name} — {r.id}
                </option>
              ))}
            </select>
          </label>
          <textarea value={config} onChange={(e) => setConfig(e.target.value)} spellCheck={false} rows={14} data-testid="config" />
          <StrategyPicker config={config} onChange={setConfig} onError={fail} />
          {!active && <Forecast api={api} config={config} />}
          <ModelUpload model={uploadedModel} onChange={setUploadedModel} />
          <div className="buttons">
            <button type="button" onClick={() => void startRun()} disabled={Boolean(active)} data-testid="start">
              Start run
            </button>
          </div>
        </div>
        <Join url={joinUrl(location.origin, servedUrls)} />
      </section>
      <section className="grid2">
        <Invites api={api} pageUrl={joinUrl(location.origin, servedUrls)} onError={fail} />
      </section>
    </main>
  );
}
