/** The client page: what this tab is doing for the federated run, and the controls it offers. */
import { useEffect, useState } from 'react';
import { type ClientController, SECAGG_MESSAGES, type UiState } from '@hushfl/browser';
import { AccuracyCurve } from './AccuracyCurve.tsx';
import { LocalData } from './LocalData.tsx';

function Bar({ label, value, detail }: { label: string; value: number; detail?: string }) {
  return (
    <div className="bar" data-testid={`bar-${label.toLowerCase()}`}>
      <div className="bar-label">
        <span>{label}</span>
        <span>{detail ?? `${Math.round(value * 100)} %`}</span>
      </div>
      <div className="bar-track">
        <div className="bar-fill" style={{ width: `${Math.round(value * 100)}%` }} />
      </div>
    </div>
  );
}

const fmt = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '—' : x.toFixed(digits));

export function App({
  controller,
  initialMiniClients,
  forcedBackend,
  autoJoin,
  joinCode = null,
}: {
  controller: ClientController;
  initialMiniClients: number;
  forcedBackend: string | null;
  autoJoin: boolean;
  /** ?joinCode=: the single-use code a coordinator with enrollment admits a new client with. */
  joinCode?: string | null;
}) {
  const [s, setS] = useState<UiState>(controller.state);
  const [mini, setMini] = useState(initialMiniClients);
  const [started, setStarted] = useState(false);
  useEffect(() => controller.subscribe(setS), [controller]);
  const join = () => {
    setStarted(true);
    void controller.start({ miniClients: mini, backend: forcedBackend, joinCode }).catch((e: Error) => console.error(e));
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: joins once, on mount, when the URL asks for it
  useEffect(() => {
    if (autoJoin && !started) join();
  }, []);
  const run = s.run;
  const dpsgd = s.metrics?.dpsgdEpsilon;
  // The global model on this device's held-out examples (federated evaluation): shown here, summed in SecAgg.
  const heldOut = s.metrics?.rounds.findLast((r) => r.heldOutAccuracy !== undefined);
  const memory = s.tfMemory.at(-1);
  return (
    <main>
      <header>
        <h1>hushfl client</h1>
        <span className={`dot ${s.connection}`} data-testid="connection">
          {s.connection}
        </span>
      </header>
      {s.insecure && (
        <div className="notice error" data-testid="insecure">
          This page is not a secure context: browsers give WebCrypto only over HTTPS (or on localhost), so it cannot take part.
        </div>
      )}
      {s.notice && (
        <div className={`notice ${s.notice.kind}`} data-testid="notice">
          {s.notice.text}
        </div>
      )}
      {s.localData && <LocalData local={s.localData} miniClients={s.miniClients} onPick={(files, source) => void controller.pickLocalData(files, source)} />}
      <section className="grid">
        <div className="card">
          <h2>This client</h2>
          <dl>
            <dt>Client id</dt>
            <dd data-testid="client-id">{s.clientId ?? '—'}</dd>
            <dt>Backend</dt>
            <dd data-testid="backend">{s.backend ?? '—'}</dd>
            {s.backend === 'wasm' && (
              <>
                <dt>WASM build</dt>
                <dd data-testid="wasm-build">{s.backendThreaded ? 'threaded SIMD' : 'single-threaded'}</dd>
              </>
            )}
            {s.backendSwitch && (
              <>
                <dt>Backend switch</dt>
                <dd data-testid="backend-switch">{s.backendSwitch}</dd>
              </>
            )}
            {memory && (
              <>
                <dt title="TensorFlow.js memory after the latest training call: it should stay the same from round to round">TF.js memory</dt>
                <dd data-testid="tf-memory">
                  {memory.numTensors} tensors, {(memory.numBytes / 1024).toFixed(1)} KiB
                </dd>
              </>
            )}
            <dt>Mini-clients</dt>
            <dd data-testid="mini-clients">
              {started ? (
                s.miniClients
              ) : (
                <input type="number" min={1} max={16} value={mini} onChange={(e) => setMini(Number(e.target.value))} aria-label="mini-clients" />
              )}
            </dd>
            <dt>Training data</dt>
            <dd data-testid="data-source">
              {s.dataSource === null
                ? '—'
                : s.dataSource.data === 'demo'
                  ? `a demo: shards of the built-in ${s.dataSource.task} dataset, served by the coordinator (it knows what each client trains on)`
                  : 'your own examples, kept on this device'}
            </dd>
            <dt>Local examples</dt>
            <dd>{s.examples.length ? s.examples.join(' + ') : '—'}</dd>
            <dt title="PKI mode: an identity certified by an authority you trust (hushfl enroll issue). This tab then signs its round keys and refuses neighbours the authority did not certify.">
              Identity (PKI)
            </dt>
            <dd data-testid="identity">
              {s.identity ? `${s.identity.subject}, authority ${s.identity.authorityKey.slice(0, 16)}…${s.identity.active ? '' : ' (reload to use)'}` : 'none'}
              <input
                type="file"
                accept="application/json,.json"
                data-testid="identity-file"
                aria-label="import an identity file"
                onChange={(e) => {
                  const f = e.target.files?.[0];
                  if (f) void f.text().then((text) => controller.importIdentity(text));
                }}
              />
            </dd>
          </dl>
          <div className="buttons">
            {!started && (
              <button type="button" onClick={join}>
                Join
              </button>
            )}
            <button type="button" className="secondary" data-testid="forget" onClick={() => void controller.forget()}>
              Forget me
            </button>
            {s.metrics && (
              <a
                className="button secondary"
                download="client_metrics.json"
                href={`data:application/json,${encodeURIComponent(JSON.stringify(s.metrics, null, 2))}`}
              >
                Metrics JSON
              </a>
            )}
          </div>
        </div>
        <div className="card">
          <h2>Run</h2>
          <dl>
            <dt>Run</dt>
            <dd data-testid="run-id">{run?.runId ?? 'none'}</dd>
            <dt>State</dt>
            <dd data-testid="run-state">{run?.state ?? '—'}</dd>
            <dt>Round</dt>
            <dd data-testid="round">{run ? `${Math.min(run.round + 1, run.rounds)} / ${run.rounds}` : '—'}</dd>
            <dt>Client-level ε (DDG)</dt>
            <dd data-testid="epsilon-ddg">
              {run?.epsilon === null || run?.epsilon === undefined ? (run?.epsilonBudget ? '0' : 'no noise') : fmt(run.epsilon)}
              {run?.epsilonBudget ? ` of ${run.epsilonBudget} (δ = ${run.delta})` : ''}
            </dd>
            <dt>Instance-level ε (DP-SGD)</dt>
            <dd data-testid="epsilon-dpsgd">{dpsgd === null || dpsgd === undefined ? 'off' : fmt(dpsgd)}</dd>
            <dt>Global accuracy</dt>
            <dd data-testid="global-accuracy">{s.globalAccuracy === null ? '—' : `${(s.globalAccuracy * 100).toFixed(1)} %`}</dd>
          </dl>
        </div>
        <div className="card wide">
          <h2>Current round</h2>
          <dl>
            <dt>Round</dt>
            <dd>{s.round ? `${s.round.round + 1} (attempt ${s.round.attempt})` : '—'}</dd>
            <dt title="Your masked update stays hidden from the coordinator unless 2t − k of your k neighbours collude with it">Secure aggregation</dt>
            <dd data-testid="secagg-guarantee">
              {s.round ? `k = ${s.round.secagg.k} of ${s.round.secagg.n} parties, t = ${s.round.secagg.t}; holds against ${s.round.secagg.guarantee}` : '—'}
            </dd>
            <dt>Stage</dt>
            <dd data-testid="stage">{s.stage ?? (s.selected === false ? 'not selected' : 'waiting')}</dd>
            <dt>Local loss / accuracy</dt>
            <dd data-testid="local">
              {s.lastTrain ? `${fmt(s.lastTrain.loss)} / ${(s.lastTrain.accuracy * 100).toFixed(1)} % on ${s.lastTrain.examples} examples` : '—'}
            </dd>
            <dt title="The model this device received, on its own held-out examples: only the sum over a round's parties reaches the coordinator, inside the masked update">
              Held-out accuracy
            </dt>
            <dd data-testid="held-out">
              {heldOut ? `${(heldOut.heldOutAccuracy! * 100).toFixed(1)} % on ${heldOut.heldOutExamples} examples (round ${heldOut.round + 1})` : '—'}
            </dd>
          </dl>
          <Bar
            label="Training"
            value={s.progress.training}
            detail={s.progress.training >= 1 ? 'done' : s.epochBatch ? `epoch ${s.epochBatch.epoch + 1}, batch ${s.epochBatch.batch}` : undefined}
          />
          <Bar label="Encoding" value={s.progress.encoding} />
          <Bar label="Upload" value={s.progress.upload} detail={`${Math.round(s.progress.upload * SECAGG_MESSAGES)} / ${SECAGG_MESSAGES} SecAgg messages`} />
        </div>
      </section>
      <AccuracyCurve points={s.accuracyCurve} epsilon={run?.epsilon ?? null} />
      <footer>Updates leave this tab only DDG-encoded and SecAgg-masked: the coordinator sees the sum of many clients, never this one.</footer>
    </main>
  );
}
