/**
 * The dashboard's connection to the coordinator: the operator HTTP API with the bearer token, and the live
 * Socket.IO namespace. The token lives in memory only (re-entered after a reload).
 */
import { io, type Socket } from 'socket.io-client';
import { OPERATOR_NAMESPACE, type Status } from '@hushfl/protocol';

export interface RunRow {
  id: string;
  name: string;
  state: string;
  created_at: number;
  completed_round: number;
  dim: number;
  reason: string | null;
  ddg: {
    params: { gamma: number; localStddev: number; bits: number; clip: number; beta: number };
    epsilonBudget: number | null;
    delta: number;
    sampleRate: number;
    dimPadded: number;
  };
}

export interface RoundRow {
  round: number;
  attempt: number;
  state: 'running' | 'completed' | 'aborted';
  started_at: number;
  finished_at: number | null;
  contributions: number | null;
  accuracy: number | null;
  loss: number | null;
  epsilon: number | null;
  /** ε against the coordinator (no sampling amplification); equals epsilon without Poisson selection. */
  epsilon_coordinator: number | null;
  /** The extra δ of Poisson selection's redraws (docs/PRIVACY.md). */
  delta_selection: number | null;
  error: string | null;
  durations: Record<string, number>;
  dropped: Record<string, string>;
  bytes_up: number;
  bytes_down: number;
  selected: number;
  participants: { client_id: string; attempt: number; contributions: number; status: string; dropped_stage: string | null }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class OperatorApi {
  constructor(
    readonly base: string,
    private readonly token: string,
  ) {}

  async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await fetch(new URL(path, this.base), {
      ...init,
      headers: { authorization: `Bearer ${this.token}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
    });
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try {
        const body = (await res.json()) as { error?: string };
        if (body.error) message = body.error;
      } catch {
        // not JSON
      }
      throw new ApiError(res.status, message);
    }
    return (await res.json()) as T;
  }

  status = () => this.request<Status>('/api/status');
  joinUrls = () => this.request<{ urls: string[] }>('/api/join');
  runs = () => this.request<RunRow[]>('/api/runs');
  run = (id: string) => this.request<RunRow & { config: unknown }>(`/api/runs/${id}`);
  rounds = (id: string) => this.request<RoundRow[]>(`/api/runs/${id}/rounds`);
  start = (config: unknown) => this.request<{ runId: string }>('/api/runs', { method: 'POST', body: JSON.stringify(config) });
  control = (id: string, action: 'pause' | 'resume' | 'stop') => this.request<{ ok: boolean }>(`/api/runs/${id}/${action}`, { method: 'POST' });

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
