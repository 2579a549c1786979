/** The coordinator shell's own types: a client connection, the logger, and the in-process event feed. */
import type { RoundSummary as EngineRoundSummary, RunNotice } from '@hushfl/engine';
import type { Report } from '@hushfl/protocol';

export interface ClientConnection {
  readonly clientId: string;
  readonly miniClients: number;
  /** The data it joined for (RunData.key): only a client holding the active run's data is selectable. */
  readonly dataKey: string;
  send(event: string, payload: unknown): void;
}

export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export type CoordinatorEvent =
  | Exclude<RunNotice, { type: 'round' }>
  /** `mean` and `included` only for in-process observers (`hushfl simulate`); never sent out. */
  | ({ type: 'round'; mean?: Float64Array; included?: readonly string[] } & EngineRoundSummary)
  | { type: 'clients'; connected: number }
  | { type: 'progress'; clientId: string; report: Report }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };

/** A finished round as in-process observers see it (the engine's summary, plus the released mean). */
export type RoundSummary = Extract<CoordinatorEvent, { type: 'round' }>;
