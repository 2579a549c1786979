/**
 * A tab survives its GPU (issue 13 §5): when local training fails on WebGPU or WebGL (the device lost, out of
 * memory, a buffer or kernel error — ten tabs on one GPU exhaust it), the trainer moves to the next backend of
 * the order (WebGPU → WebGL → WASM, CPU where WASM will not start) and trains the round again while the training
 * deadline leaves time for the DDG encoding and the first SecAgg message. On WASM or CPU there is nowhere to
 * go: the round fails as before. The decisions are here, pure; the training Worker supplies the switching.
 *
 * Privacy: a failed attempt's result never leaves the trainer, and only the attempt whose update is used
 * reports its DP-SGD RDP — its output is distributed as one run's, since whether a GPU fails depends on the
 * sizes (model, batch), not on the values of the data.
 */
import { BACKENDS, type BackendName } from '@hushfl/protocol';

/** When the round's training must be done (a `Date.now()` time: the same clock in every Worker) and how long it had. */
export interface TrainDeadline {
  readonly at: number;
  readonly totalMs: number;
}

/** A retry keeps this much of the training deadline for encoding and SecAgg: a fifth of it, and at least 2 s. */
export const RETRY_MARGIN = { fraction: 0.2, minMs: 2000 } as const;

/** Backends whose failures are the device's: another backend may train where they failed. */
export function isGpuBackend(name: string): boolean {
  return name === 'webgpu' || name === 'webgl';
}

/** The backends to try after `failed`, best first (none after an unknown one). */
export function fallbacksAfter(failed: string): BackendName[] {
  const i = BACKENDS.indexOf(failed as BackendName);
  return i < 0 ? [] : BACKENDS.slice(i + 1);
}

export function retryMarginMs(totalMs: number): number {
  return Math.max(RETRY_MARGIN.minMs, RETRY_MARGIN.fraction * totalMs);
}

/** Whether a retry may start at `now`: more than the margin left before the deadline (a request without one: yes). */
export function retryAllowed(deadline: TrainDeadline | undefined, now: number): boolean {
  return !deadline || deadline.at - now > retryMarginMs(deadline.totalMs);
}

/** A move to another backend after a training failure, for the page to show. */
export interface BackendSwitch {
  readonly from: string;
  readonly to: string;
  /** The failure on `from`, as tfjs or the browser said it. */
  readonly error: string;
  /** Whether the round's training is tried again on `to` (false: too close to the deadline, this round fails). */
  readonly retried: boolean;
}

export interface FallbackDriver<T> {
  /** The backend in use now. */
  backend(): string;
  /** One training attempt on the backend in use. */
  attempt(): Promise<T>;
  /** Frees what `failed` holds and makes `to` the backend in use; false when `to` does not initialise. */
  switchTo(to: BackendName, failed: string): Promise<boolean>;
  onSwitch(s: BackendSwitch): void;
  now?(): number;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Display names for messages the page shows. */
export const BACKEND_LABELS: Readonly<Record<string, string>> = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WASM', cpu: 'CPU' };

/** "WebGPU failed (…): switched to WebGL", and why the round was not retried when it was not. */
export function describeSwitch(s: BackendSwitch): string {
  const label = (b: string) => BACKEND_LABELS[b] ?? b;
  const text = `${label(s.from)} failed (${s.error.slice(0, 200)}): switched to ${label(s.to)}`;
  return s.retried ? text : `${text} for the next rounds (too close to the training deadline to train this one again)`;
}

/**
 * Runs `attempt` and, when it fails on a GPU backend, switches to the first fallback that initialises and tries
 * again while `deadline` allows: at most once per backend, as the order only moves forward. A switch is kept
 * (and reported) even when no retry fits: the next rounds should not meet the same failure.
 */
export async function trainWithFallback<T>(deadline: TrainDeadline | undefined, d: FallbackDriver<T>): Promise<T> {
  const now = d.now ?? Date.now;
  for (;;) {
    const on = d.backend();
    try {
      return await d.attempt();
    } catch (err) {
      // Another call (a superseded round's) already moved off the backend this attempt ran on: retry on the new one.
      if (d.backend() !== on && isGpuBackend(on)) {
        if (retryAllowed(deadline, now())) continue;
        throw err;
      }
      if (!isGpuBackend(on)) throw err;
      let to: BackendName | undefined;
      for (const next of fallbacksAfter(on)) {
        if (await d.switchTo(next, on)) {
          to = next;
          break;
        }
      }
      if (!to) throw err;
      const retried = retryAllowed(deadline, now());
      d.onSwitch({ from: on, to, error: messageOf(err), retried });
      if (!retried) throw new Error(`${messageOf(err)} (on ${on}; switched to ${to} for the next rounds, too late to train this one again)`);
    }
  }
}
