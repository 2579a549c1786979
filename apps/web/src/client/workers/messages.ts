/** Messages between the page and its two Workers (training; encoding + SecAgg). */
import type { LocalReport } from '@hushfl/client';
import type { Packed } from '@hushfl/protocol';
import type { ClientMetrics, TrainOutput, TrainRequest } from '@hushfl/client';
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

/** Train worker → page. */
export type FromTrainWorker =
  | { type: 'backend'; backend: string; threaded: boolean }
  | { type: 'shards'; examples: number[] }
  | { type: 'error'; message: string };

/** Client worker ↔ train worker over their MessageChannel. */
export type TrainCall = { type: 'train'; id: number; req: TrainRequest };
export type TrainReply =
  | { type: 'progress'; id: number; progress: TrainProgress }
  | { type: 'done'; id: number; output: TrainOutput }
  | { type: 'failed'; id: number; message: string };
