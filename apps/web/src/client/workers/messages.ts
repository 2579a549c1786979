/** Messages between the page and its two Workers (training; encoding + SecAgg). */
import type { LocalReport } from '@hushfl/client';
import type { Packed } from '@hushfl/protocol';
import type { BackendSwitch, ClientMetrics, TrainOutput, TrainRequest } from '@hushfl/client';
import type { TrainProgress } from '@hushfl/client';

/** Page → client worker. */
export type ToClientWorker =
  | { type: 'init'; miniClients: number; trainer: MessagePort; backend: string }
  | { type: 'task'; packed: Packed }
  | { type: 'secagg'; packed: Packed }
  | { type: 'round-end'; payload: unknown }
  /** PKI mode: an identity file from `hushfl enroll issue`, as text; used from the next page load. */
  | { type: 'import-identity'; text: string };

/** The enrolled identity this tab holds (PKI mode), public parts only. */
export interface IdentityInfo {
  readonly subject: string;
  /** The authority's public key (hex), pinned from the identity file the user imported. */
  readonly authorityKey: string;
  readonly notAfter: number;
  /** True when the current runtime signs its round keys with it and checks its neighbours'. */
  readonly active: boolean;
}

/** Client worker → page. */
export type FromClientWorker =
  | { type: 'ready'; resumedRound: string | null }
  | { type: 'secagg'; packed: { json: string; bin: ArrayBuffer } }
  | { type: 'report'; report: LocalReport }
  | { type: 'metrics'; metrics: ClientMetrics }
  | { type: 'identity'; identity: IdentityInfo }
  | { type: 'error'; message: string };

/** Page → train worker. */
export type ToTrainWorker = { type: 'backend'; forced: string | null } | { type: 'port'; port: MessagePort } | { type: 'shards'; indices: number[] };

/** TensorFlow.js memory after a training call (page-local, never sent on): a leak shows as growth. */
export interface TfMemory {
  readonly backend: string;
  readonly numTensors: number;
  readonly numBytes: number;
}

/** Train worker → page. */
export type FromTrainWorker =
  | { type: 'backend'; backend: string; threaded: boolean }
  /** Training failed on a GPU backend and moved to the next one (issue 13 §5). */
  | { type: 'backend-switch'; change: BackendSwitch; threaded: boolean }
  | ({ type: 'memory' } & TfMemory)
  | { type: 'shards'; examples: number[] }
  | { type: 'error'; message: string };

/** Client worker ↔ train worker over their MessageChannel. */
export type TrainCall = { type: 'train'; id: number; req: TrainRequest };
export type TrainReply =
  | { type: 'progress'; id: number; progress: TrainProgress }
  /** `backend`: the one that trained (it changes after a fallback). */
  | { type: 'done'; id: number; output: TrainOutput; backend: string }
  | { type: 'failed'; id: number; message: string };
