/**
 * The dashboard's connection to the coordinator: the operator HTTP API with the bearer token (the typed client
 * of @hushfl/operator-client), browser downloads, and the live Socket.IO namespace. The token lives in memory
 * only (re-entered after a reload).
 */
import { io, type Socket } from 'socket.io-client';
import { ApiError, OperatorClient } from '@hushfl/operator-client';
import { OPERATOR_NAMESPACE, parseRunConfig, type RoundResponse, type RunSummary } from '@hushfl/protocol';

export { ApiError };
export type RunRow = RunSummary;
export type RoundRow = RoundResponse;

export class OperatorApi extends OperatorClient {
  constructor(
    readonly base: string,
    private readonly token: string,
  ) {
    // Called through a closure: window.fetch throws "Illegal invocation" when called as another object's method.
    super({ base, token, fetch: (url, init) => fetch(url, init) });
  }

  /**
   * Starts a run from a parsed YAML/JSON document. It is checked here first, so a bad field is named at once in
   * the coordinator's words (ConfigError), and again by the coordinator.
   */
  start(config: unknown) {
    return this.createRun(parseRunConfig(config));
  }

  /** The forecast of a parsed YAML/JSON document (checked here first, as `start` does). */
  forecastOf(config: unknown) {
    return this.forecast(parseRunConfig(config));
  }

  /** Downloads a file the API serves (metrics JSON, model) with the token, as a browser download. */
  async download(path: string, filename: string): Promise<void> {
    const res = await fetch(new URL(path, this.base), { headers: { authorization: `Bearer ${this.token}` } });
    if (!res.ok) throw new ApiError(res.status, `download failed: ${res.status}`);
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = filename;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  live(): Socket {
    return io(new URL(OPERATOR_NAMESPACE, this.base).toString(), { auth: { token: this.token }, transports: ['websocket'] });
  }
}
