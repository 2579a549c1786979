/** Messages between the page and its Workers (training; encoding + SecAgg; the person's own data). */
import type { LocalReport } from '@hushfl/client';
import type { Packed } from '@hushfl/protocol';
import type { BackendSwitch, ClientMetrics, TrainOutput, TrainRequest } from '@hushfl/client';
import type { TrainProgress } from '@hushfl/client';
import type { LocalDataSummary, TaskDescription } from '@hushfl/tasks';
import type { FederationExamples } from '../examples.ts';

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
export type ToTrainWorker =
  /** `wasmPath`: the absolute URL (ending in /) the tfjs .wasm files are served from. */
  { type: 'backend'; forced: string | null; wasmPath: string } | { type: 'port'; port: MessagePort } | { type: 'shards'; shards: Uint8Array[] };

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

/** Page → localData worker: the person's own examples (`data: local`), which never leave the device. `id` pairs a reply with its request. */
export type ToLocalDataWorker =
  /** The task's description and, when this browser holds examples for it (cut into `parts` shards), their summary. */
  | { type: 'open'; id: number; task: string; parts: number }
  /**
   * The picked files, read, checked, stored in IndexedDB and summarised. `paths[i]`: file i's path inside a
   * picked folder (its `webkitRelativePath`, which a File posted to a Worker may lose) or its name.
   * `source` names the pick in errors ("the folder 'digits'").
   */
  | { type: 'parse'; id: number; task: string; parts: number; files: File[]; paths: string[]; source: string }
  /** The examples a site embedding the SDK passed (joinFederation's `examples`): checked and cut into shards, not stored. */
  | { type: 'examples'; id: number; task: string; parts: number; examples: FederationExamples };

/** localData worker → page. */
export type FromLocalDataWorker =
  | { type: 'opened'; id: number; task: TaskDescription; expectation: string; stored: LocalDataSummary | null }
  | { type: 'progress'; id: number; done: number; total: number }
  /** Stored; `skipped`: how many picked files were not examples of the task (hidden files aside), and the first few names. */
  | { type: 'parsed'; id: number; summary: LocalDataSummary; skipped: { count: number; names: string[] } }
  /** The site's examples as shards (their buffers transferred), kept by the page for this session only. */
  | { type: 'built'; id: number; task: TaskDescription; expectation: string; shards: Uint8Array[]; summary: LocalDataSummary }
  /** `file`: the file the problem is in, when one is. */
  | { type: 'error'; id: number; message: string; file?: string };
