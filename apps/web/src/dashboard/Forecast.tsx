/**
 * The utility forecast of the config in the editor, before the run starts (issue 16 §3): the coordinator
 * plans it as it would a new run (POST /api/forecast) and says how large each released mean's noise is
 * against the clip, warning when the noise dominates.
 */
import type { Forecast as ForecastResult } from '@hushfl/protocol';
import { useEffect, useState } from 'react';
import { parse as parseYaml } from 'yaml';
import type { OperatorApi } from './api.ts';

export function Forecast({ api, config }: { api: OperatorApi; config: string }) {
  const [state, setState] = useState<{ forecast: ForecastResult } | { error: string } | null>(null);
  useEffect(() => {
    let live = true;
    // Debounced: the planner calibrates the noise, and the operator is still typing.
    const timer = setTimeout(() => {
      let parsed: unknown;
      try {
        parsed = parseYaml(config);
      } catch (e) {
        setState({ error: `the config is not valid YAML/JSON: ${(e as Error).message}` });
        return;
      }
      // forecastOf checks the config first and throws at once for a bad one: a rejection like the coordinator's.
      Promise.resolve(parsed)
        .then((c) => api.forecastOf(c))
        .then(
          (forecast) => live && setState({ forecast }),
          (e: unknown) => live && setState({ error: e instanceof Error ? e.message : String(e) }),
        );
    }, 400);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [api, config]);
  if (!state) return null;
  if ('error' in state)
    return (
      <p className="muted" data-testid="forecast-error">
        No forecast: {state.error}
      </p>
    );
  const f = state.forecast;
  return (
    <div className={`notice ${f.verdict === 'learns' ? '' : 'warn'}`} data-testid="forecast" data-verdict={f.verdict}>
      <b>Utility forecast.</b> Each released mean carries noise of {f.noiseStddev.toExponential(2)} per weight, a norm of {f.noiseNorm.toPrecision(3)} over d ={' '}
      {f.dim.toLocaleString('en-US')} weights at about {Math.round(f.parties)} parties a round: <span data-testid="forecast-message">{f.message}</span>.
    </div>
  );
}
