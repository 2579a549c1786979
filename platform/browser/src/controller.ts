/**
 * The client's controller on the main thread of a page (the client page, or any site through joinFederation):
 * UI state, the two Workers, and relay between them and the coordinator. packages/client's ClientSession
 * speaks to the coordinator (hello and resume, shards, `ready`, validation) over the Socket.IO socket, with
 * the identity and shards in IndexedDB. It never trains or encrypts: the two Workers do (training; DDG
 * encoding and SecAgg). With `data: local` a third Worker reads the examples the person picks, or checks the
 * ones the embedding site passed (localData.worker.ts); they stay on the device. State for the UI is a plain object.
 */
import { describeSecAggGuarantee, secaggGuaranteeOf } from '@hushfl/secagg/params';
import { io } from 'socket.io-client';
import type { ClientMetrics, LocalReport } from '@hushfl/client';
import { describeSwitch } from '@hushfl/client/backendFallback';
import { httpErrorMessage } from '@hushfl/client/httpError';
import { ClientSession, type JoinedAck, type Shard, socketIoTransport, type SessionHandlers } from '@hushfl/client/session';
import { CLIENT_NAMESPACE, type Packed, type Status } from '@hushfl/protocol';
// The stage table alone: the main thread never needs the SecAgg crypto code.
import { SECAGG_STAGE_TABLE, stageOpenedBy, stageSpec } from '@hushfl/secagg/stages';
import type { LocalDataSummary, TaskDescription } from '@hushfl/tasks';
import type { FederationExamples } from './examples.ts';
import { store } from './store.ts';
import type {
  FromClientWorker,
  FromLocalDataWorker,
  FromTrainWorker,
  IdentityInfo,
  TfMemory,
  ToClientWorker,
  ToLocalDataWorker,
  ToTrainWorker,
} from './workers/messages.ts';

/** `refused`: the coordinator turned this client away (hello, or the connection's origin); it does not retry. */
export type Connection = 'starting' | 'connecting' | 'connected' | 'unreachable' | 'refused' | 'stopped';

/** Where this client is in its current round, for code (`stage` is the name to show). */
export type RoundPhase = 'training' | 'encoding' | 'secagg' | 'done' | 'aborted';

/** The latest round's end as the coordinator announced it. */
export interface RoundOutcome {
  /** 0-based, as on the wire. */
  readonly round: number;
  readonly completed: boolean;
  /** This client's update was in the sum. */
  readonly included: boolean;
  /** The global model's accuracy after the round (the coordinator's evaluation), when it gave one. */
  readonly accuracy: number | null;
}

/** The person's own examples for a `data: local` run: what the task wants, what was picked, and how far reading it got. */
export interface LocalDataUi {
  /** `opening`: asking the Worker what the task expects; `needed`: waiting for a pick; `reading`: a pick is being read. */
  readonly status: 'opening' | 'needed' | 'reading' | 'ready';
  readonly task: TaskDescription | null;
  /** What the task's examples must be, in a sentence. */
  readonly expectation: string;
  /** The examples stored for the task (the latest valid pick). */
  readonly summary: LocalDataSummary | null;
  readonly progress: { done: number; total: number } | null;
  /** Why the latest pick was refused (it names the file). */
  readonly error: string | null;
  readonly skipped: { count: number; names: string[] } | null;
}

export interface UiState {
  connection: Connection;
  coordinator: string;
  clientId: string | null;
  backend: string | null;
  /** WASM only: whether the threaded SIMD build runs (the page is cross-origin isolated). */
  backendThreaded: boolean;
  /** Why training left the backend it started on: "WebGPU failed (…): switched to WebGL" (issue 13 §5). */
  backendSwitch: string | null;
  /** TensorFlow.js memory after the latest training calls, oldest first (at most TF_MEMORY_SAMPLES). */
  tfMemory: readonly TfMemory[];
  miniClients: number;
  examples: number[];
  run: Status | null;
  round: {
    roundId: string;
    round: number;
    attempt: number;
    /** This round's SecAgg+: n parties, k neighbours, threshold t, and the guarantee the task states (checked by the client Worker). */
    secagg: { n: number; k: number; t: number; guarantee: string };
  } | null;
  selected: boolean | null;
  stage: string | null;
  phase: RoundPhase | null;
  /** The coordinator's reason when it refused this client (connection is then `refused`). */
  refused: string | null;
  lastRound: RoundOutcome | null;
  /** Rounds completed with this client's update in the sum, since start. */
  roundsIncluded: number;
  /**
   * The global model's accuracy after each completed round this tab was a party of (the coordinator's, from
   * the round end), and whether its update was in the sum.
   */
  accuracyCurve: readonly { readonly round: number; readonly accuracy: number; readonly included: boolean }[];
  progress: { training: number; encoding: number; upload: number };
  epochBatch: { epoch: number; batch: number } | null;
  lastTrain: { loss: number; accuracy: number; examples: number; ms: number } | null;
  globalAccuracy: number | null;
  metrics: ClientMetrics | null;
  notice: { kind: 'info' | 'warn' | 'error'; text: string } | null;
  insecure: boolean;
  resumedRound: string | null;
  /** PKI mode: the enrolled identity (public parts), once imported. */
  identity: IdentityInfo | null;
  /** Where the run's training data comes from (the hello ack): demo shards from the coordinator, or the person's own. */
  dataSource: { data: 'demo' | 'local'; task: string } | null;
  /** `data: local` only. */
  localData: LocalDataUi | null;
}

/** Client message type → its step (1-based) among the round's SecAgg uploads. Keyed by strings parsed off the wire. */
const SECAGG_STEPS = new Map<string, number>(SECAGG_STAGE_TABLE.map((row, i) => [row.collects, i + 1]));
/** The SecAgg messages a client sends in a round: one per stage. */
export const SECAGG_MESSAGES = SECAGG_STEPS.size;
/** Server message type → display name of the stage it opens. */
const STAGE_NAMES = new Map<string, string>(
  SECAGG_STAGE_TABLE.flatMap((row) => (row.reply === null ? [] : [[row.reply, stageSpec(stageOpenedBy(row.reply)).displayName]])),
);
/** No server message opens the first stage: the client enters it by sending that stage's message. */
const FIRST_STAGE = SECAGG_STAGE_TABLE[0];

/** A request to the localData Worker, before askLocalWorker gives it an id. */
type LocalRequest = { [K in ToLocalDataWorker['type']]: Omit<Extract<ToLocalDataWorker, { type: K }>, 'id'> }[ToLocalDataWorker['type']];

/** TensorFlow.js memory samples the page keeps (one per training call): enough to see growth, bounded over a long run. */
export const TF_MEMORY_SAMPLES = 16;

/** The buffer under an envelope's bytes, to move to a Worker rather than copy. */
const transferOf = (envelope: Packed): Transferable[] => (envelope.bin.buffer instanceof ArrayBuffer ? [envelope.bin.buffer] : []);

export interface StartOptions {
  readonly url?: string;
  readonly miniClients: number;
  readonly backend: string | null;
  /** A join code (`?joinCode=`) for a coordinator with enrollment; only a new identity uses it. */
  readonly joinCode?: string | null;
  /**
   * The embedding site's own examples (joinFederation): on a `data: local` run they are the client's shards,
   * with no picker; with a `task` they are checked before connecting. Unused on a `data: demo` run.
   */
  readonly examples?: FederationExamples | null;
  /** Where the tfjs .wasm files are served, resolved against the page (default `/tfjs-wasm/`). */
  readonly wasmPath?: string;
}

/** Where the tfjs .wasm files are, unless the page says otherwise (apps/web and the Vite plugin copy them there). */
export const DEFAULT_WASM_PATH = '/tfjs-wasm/';

/** What notices call the site's examples. */
const SITE_EXAMPLES = "this site's examples";

export class ClientController {
  state: UiState;
  private listeners = new Set<(s: UiState) => void>();
  private session: ClientSession | null = null;
  private trainWorker: Worker | null = null;
  private clientWorker: Worker | null = null;
  private workersReady: Promise<void> | null = null;
  private localWorker: Worker | null = null;
  private localRequests = 0;
  /** The task and shard count the current join wants local examples for. */
  private localWant: { task: string; parts: number } | null = null;
  /** Resolves once the person has picked valid examples, while a join waits for them. */
  private localPicked: { promise: Promise<void>; resolve: () => void } | null = null;
  /** The embedding site's examples (StartOptions.examples), and the shards made of them for a task and shard count. */
  private siteExamples: FederationExamples | null = null;
  private siteShards: { task: string; parts: number; shards: Uint8Array[]; count: number } | null = null;

  constructor(coordinator = globalThis.location?.origin ?? '') {
    this.state = {
      connection: 'starting',
      coordinator,
      clientId: null,
      backend: null,
      backendThreaded: false,
      backendSwitch: null,
      tfMemory: [],
      miniClients: 1,
      examples: [],
      run: null,
      round: null,
      selected: null,
      stage: null,
      phase: null,
      refused: null,
      lastRound: null,
      roundsIncluded: 0,
      accuracyCurve: [],
      progress: { training: 0, encoding: 0, upload: 0 },
      epochBatch: null,
      lastTrain: null,
      globalAccuracy: null,
      metrics: null,
      notice: null,
      insecure: typeof window !== 'undefined' && !window.isSecureContext,
      resumedRound: null,
      identity: null,
      dataSource: null,
      localData: null,
    };
  }

  subscribe(fn: (s: UiState) => void): () => void {
    this.listeners.add(fn);
    fn(this.state);
    return () => this.listeners.delete(fn);
  }

  private set(patch: Partial<UiState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l(this.state);
  }

  /** Connects and joins; false when this page cannot take part (no WebCrypto, no backend, site examples that do not fit): the notice says why. */
  async start(opts: StartOptions): Promise<boolean> {
    const url = opts.url ?? this.state.coordinator;
    const known = await store.identity();
    const miniClients = known?.miniClients ?? opts.miniClients;
    this.set({ miniClients, coordinator: url, connection: 'connecting' });
    if (!globalThis.crypto?.subtle) {
      this.set({
        insecure: true,
        notice: { kind: 'error', text: 'This page is not in a secure context, so WebCrypto is missing: open it over HTTPS (or on localhost).' },
      });
      return false;
    }
    this.siteExamples = opts.examples ?? null;
    this.siteShards = null;
    // Examples that name their task are checked now: a site learns of a mistake in them before anyone connects.
    if (this.siteExamples?.task !== undefined) {
      try {
        await this.siteShardsFor(this.siteExamples.task, miniClients);
      } catch (e) {
        this.set({ notice: { kind: 'error', text: `${SITE_EXAMPLES} cannot train: ${(e as Error).message}` } });
        this.localWorker?.terminate();
        this.localWorker = null;
        return false;
      }
    }
    // Resolved against the page, on this thread: a Worker's own location is its script's.
    const page = globalThis.document?.baseURI ?? globalThis.location?.href;
    const wasmPath = page ? new URL(opts.wasmPath ?? DEFAULT_WASM_PATH, page).toString() : (opts.wasmPath ?? DEFAULT_WASM_PATH);
    this.trainWorker = new Worker(new URL('./workers/train.worker.ts', import.meta.url), { type: 'module' });
    this.clientWorker = new Worker(new URL('./workers/client.worker.ts', import.meta.url), { type: 'module' });
    this.clientWorker.onmessage = (e: MessageEvent<FromClientWorker>) => this.onClientWorker(e.data);
    this.trainWorker.addEventListener('message', (e: MessageEvent<FromTrainWorker>) => this.onTrainWorker(e.data));
    const backend = await this.askTrainWorker(
      { type: 'backend', forced: opts.backend, wasmPath: wasmPath.endsWith('/') ? wasmPath : `${wasmPath}/` },
      'backend',
    );
    if (backend.type !== 'backend') return false;
    this.set({ backend: backend.backend, backendThreaded: backend.threaded });

    const socket = io(new URL(CLIENT_NAMESPACE, url).toString(), { transports: ['websocket'], reconnectionDelayMax: 5000, autoConnect: false });
    this.session = new ClientSession({
      transport: socketIoTransport(socket),
      identities: { load: () => store.identity(), save: (identity) => store.setIdentity(identity), forget: () => store.forget() },
      coordinatorUrl: url,
      fetchShard: async (shardUrl, headers) => {
        let res: Response;
        try {
          res = await fetch(shardUrl, { headers });
        } catch (e) {
          // A page of another origin (a site embedding the SDK) reads the coordinator's shards only if it answers CORS.
          const other = globalThis.location && new URL(shardUrl).origin !== globalThis.location.origin;
          const why = other
            ? `: the coordinator answers shard downloads of another origin only if its --allowed-origin names ${globalThis.location.origin}`
            : '';
          throw new Error(`${(e as Error).message}${why}`);
        }
        if (!res.ok) throw new Error(httpErrorMessage(res.status, await res.text()));
        return new Uint8Array(await res.arrayBuffer());
      },
      shardCache: { get: (key, index) => store.shard(key, index), put: (key, index, bytes) => store.setShard(key, index, bytes) },
      localShards: (ack) => this.localShards(ack, miniClients),
      hello: {
        miniClients,
        backend: this.state.backend ?? undefined,
        ...(globalThis.navigator?.userAgent ? { userAgent: globalThis.navigator.userAgent.slice(0, 256) } : {}),
        ...(opts.joinCode ? { joinCode: opts.joinCode } : {}),
      },
      handlers: this.sessionHandlers(url, miniClients, socket),
    });
    this.session.start();
    return true;
  }

  /** What the page does with each session event: UI state, and relay to the Workers. */
  private sessionHandlers(url: string, miniClients: number, socket: { readonly active: boolean }): SessionHandlers {
    return {
      onConnectError: (e) => {
        // A refusal by the coordinator's middleware (the origin check) is final: Socket.IO does not retry it.
        if (!socket.active) return this.refuse(e.message);
        this.set({ connection: 'unreachable', notice: { kind: 'error', text: `The coordinator at ${url} is unreachable; retrying…` } });
      },
      onDisconnect: (reason) => {
        if (this.state.connection === 'stopped' || this.state.connection === 'refused') return;
        this.set({ connection: 'unreachable', notice: { kind: 'warn', text: `Disconnected from the coordinator (${reason}); reconnecting…` } });
      },
      onJoined: (ack) =>
        this.set({
          clientId: ack.clientId,
          connection: 'connected',
          insecure: this.state.insecure || ack.insecureContext,
          refused: null,
          notice: {
            kind: 'info',
            text:
              ack.data === 'demo' && this.siteExamples
                ? `Joined a demo run: it trains on the coordinator's demo shards of the ${ack.task} dataset, not on ${SITE_EXAMPLES}.`
                : ack.resumed
                  ? 'Rejoined as the same client.'
                  : 'Joined: waiting to be selected for a round.',
          },
          dataSource: { data: ack.data, task: ack.task },
          ...(ack.data === 'demo' ? { localData: null } : {}),
        }),
      onRefused: (error) => this.refuse(error),
      onShardsLoaded: async (shards) => {
        const r = await this.askTrainWorker({ type: 'shards', shards: shards.map((s) => s.bytes) }, 'shards');
        // Not ready on data the training Worker refused: it would train on none (or, before, on the last task's).
        if (r.type !== 'shards') throw new Error(r.type === 'error' ? r.message : `unexpected ${r.type} from the training Worker`);
        this.set({ examples: r.examples });
        this.workersReady ??= this.initWorkers(miniClients);
        await this.workersReady;
      },
      // A join that failed (a shard the coordinator would not hand out, say) is said on the page, not only in the console.
      onError: (e) => {
        console.error(e);
        this.set({ notice: { kind: 'error', text: `This client could not join: ${e.message}` } });
      },
      onInvalid: (event, reason) => this.set({ notice: { kind: 'error', text: `invalid ${event} message from the coordinator: ${reason.slice(0, 300)}` } }),
      onBye: (reason) => this.set({ notice: { kind: 'error', text: `The coordinator closed the session: ${reason}` } }),
      onStatus: (status) => {
        const patch: Partial<UiState> = { run: status };
        if (status.selected === false && status.state === 'running') {
          patch.selected = false;
          patch.notice = { kind: 'info', text: `This tab was not selected for round ${status.round + 1}; it waits for the next one.` };
        }
        this.set(patch);
      },
      onTask: (task, envelope) => {
        this.set({
          round: {
            roundId: task.roundId,
            round: task.round,
            attempt: task.attempt,
            secagg: {
              n: task.secagg.clients.length,
              k: Math.min(task.secagg.neighbours, task.secagg.clients.length - 1),
              t: task.secagg.threshold,
              guarantee: describeSecAggGuarantee(secaggGuaranteeOf(task.secagg)),
            },
          },
          selected: true,
          stage: 'Training',
          phase: 'training',
          progress: { training: 0, encoding: 0, upload: 0 },
          epochBatch: null,
          notice: { kind: 'info', text: `Selected for round ${task.round + 1}: training on this device's data.` },
        });
        // The client Worker takes the envelope as received (its buffer moves there, not a copy).
        this.toClientWorker({ type: 'task', packed: envelope }, transferOf(envelope));
      },
      onSecAgg: ({ message }, envelope) => {
        const opens = STAGE_NAMES.get(message.type);
        if (opens) this.set({ stage: opens, phase: 'secagg' });
        this.toClientWorker({ type: 'secagg', packed: envelope }, transferOf(envelope));
      },
      onRoundEnd: (end) => {
        this.toClientWorker({ type: 'round-end', payload: end });
        const text =
          end.status === 'completed'
            ? `Round ${end.round + 1} completed${end.included ? ' with this tab’s update in the sum' : ' without this tab'}: global accuracy ${((end.accuracy ?? 0) * 100).toFixed(1)} %.`
            : `Round ${end.round + 1} was aborted: ${end.reason ?? 'no reason given'}. It will be re-run.`;
        const completed = end.status === 'completed';
        const included = completed && Boolean(end.included);
        this.set({
          stage: completed ? 'Done' : 'Aborted',
          phase: completed ? 'done' : 'aborted',
          notice: { kind: completed ? 'info' : 'warn', text },
          lastRound: { round: end.round, completed, included, accuracy: end.accuracy ?? null },
          roundsIncluded: this.state.roundsIncluded + (included ? 1 : 0),
          ...(completed && end.accuracy != null
            ? {
                accuracyCurve: [...this.state.accuracyCurve.filter((p) => p.round !== end.round), { round: end.round, accuracy: end.accuracy, included }],
              }
            : {}),
          ...(end.accuracy !== undefined ? { globalAccuracy: end.accuracy } : {}),
        });
      },
    };
  }

  /** The coordinator turned this client away: said on the page, and no more tries. */
  private refuse(reason: string): void {
    this.set({ connection: 'refused', refused: reason, notice: { kind: 'error', text: `The coordinator refused this client: ${reason}` } });
  }

  private askTrainWorker<T extends FromTrainWorker['type']>(m: ToTrainWorker, expect: T, transfer: Transferable[] = []): Promise<FromTrainWorker> {
    return new Promise((resolve) => {
      const w = this.trainWorker!;
      const on = (e: MessageEvent<FromTrainWorker>) => {
        if (e.data.type === expect || e.data.type === 'error') {
          w.removeEventListener('message', on);
          if (e.data.type === 'error') this.set({ notice: { kind: 'error', text: `Training worker: ${e.data.message}` } });
          resolve(e.data);
        }
      };
      w.addEventListener('message', on);
      w.postMessage(m, transfer);
    });
  }

  private setLocal(patch: Partial<LocalDataUi>): void {
    const base: LocalDataUi = this.state.localData ?? {
      status: 'opening',
      task: null,
      expectation: '',
      summary: null,
      progress: null,
      error: null,
      skipped: null,
    };
    this.set({ localData: { ...base, ...patch } });
  }

  /** One request to the localData Worker (started on first use); its progress goes to the UI state. */
  private askLocalWorker(m: LocalRequest): Promise<FromLocalDataWorker> {
    this.localWorker ??= new Worker(new URL('./workers/localData.worker.ts', import.meta.url), { type: 'module' });
    const w = this.localWorker;
    const id = ++this.localRequests;
    return new Promise((resolve) => {
      const on = (e: MessageEvent<FromLocalDataWorker>) => {
        if (e.data.id !== id) return;
        if (e.data.type === 'progress') return this.setLocal({ progress: { done: e.data.done, total: e.data.total } });
        w.removeEventListener('message', on);
        resolve(e.data);
      };
      w.addEventListener('message', on);
      w.postMessage({ ...m, id } as ToLocalDataWorker);
    });
  }

  /**
   * The session's `localShards` (`data: local`): the examples this browser stored for the task, at once when
   * it has them (cut for as many mini-clients), else once the person has picked valid ones.
   */
  private async localShards(ack: JoinedAck, parts: number): Promise<Shard[]> {
    if (this.siteExamples) {
      // An embedding site's examples: no picker; the error names what in them does not fit the run's task.
      const shards = await this.siteShardsFor(ack.task, parts).catch((e: Error) => {
        throw new Error(`${SITE_EXAMPLES} cannot train: ${e.message}`);
      });
      this.set({ notice: { kind: 'info', text: `This run trains on ${SITE_EXAMPLES} (${this.siteShards?.count}): they never leave this device.` } });
      return shards.map((bytes, index) => ({ index, bytes }));
    }
    this.localWant = { task: ack.task, parts };
    // Another task's examples are not these: start over (a pick being read goes on and is then checked again).
    const same = this.state.localData?.task?.name === ack.task ? this.state.localData : null;
    this.set({ localData: null });
    this.setLocal({ ...same, status: same?.status === 'reading' ? 'reading' : 'opening' });
    const opened = await this.askLocalWorker({ type: 'open', task: ack.task, parts });
    if (opened.type === 'error') {
      this.setLocal({ status: 'needed', error: opened.message });
      throw new Error(opened.message);
    }
    if (opened.type !== 'opened') throw new Error(`the local data worker answered ${opened.type}`);
    if (opened.stored) {
      this.setLocal({ status: 'ready', task: opened.task, expectation: opened.expectation, summary: opened.stored });
    } else {
      this.setLocal({ status: this.state.localData?.status === 'reading' ? 'reading' : 'needed', task: opened.task, expectation: opened.expectation });
      this.set({
        notice: { kind: 'info', text: `This run trains on data on your device: pick your ${opened.task.title} examples below. They never leave this device.` },
      });
      if (!this.localPicked) {
        let resolve = () => {};
        const promise = new Promise<void>((r) => (resolve = r));
        this.localPicked = { promise, resolve };
      }
      await this.localPicked.promise;
    }
    const stored = await store.localData(ack.task);
    if (!stored || stored.shards.length !== parts) throw new Error(`your ${ack.task} examples are no longer stored in this browser: pick them again`);
    return stored.shards.map((bytes, index) => ({ index, bytes }));
  }

  /** The embedding site's examples checked against `task` and cut into `parts` shards in the localData Worker, once per task and count. */
  private async siteShardsFor(task: string, parts: number): Promise<Uint8Array[]> {
    const made = this.siteShards;
    if (made && made.task === task && made.parts === parts) return made.shards;
    this.set({ localData: null });
    this.setLocal({ status: 'reading' });
    const r = await this.askLocalWorker({ type: 'examples', task, parts, examples: this.siteExamples! });
    if (r.type !== 'built') {
      const message = r.type === 'error' ? r.message : `the local data worker answered ${r.type}`;
      this.setLocal({ status: 'needed', error: message });
      throw new Error(message);
    }
    this.setLocal({ status: 'ready', task: r.task, expectation: r.expectation, summary: r.summary });
    this.siteShards = { task, parts, shards: r.shards, count: r.summary.count };
    return r.shards;
  }

  /**
   * The person picked files for a `data: local` run (`source` names them: "the folder 'digits'"): read and
   * checked in the localData Worker, stored in IndexedDB. A join that waited for them goes on; examples that
   * replace ones already in use are loaded by rejoining.
   */
  async pickLocalData(files: readonly File[], source: string): Promise<void> {
    const local = this.state.localData;
    const want = this.localWant;
    if (!local || !want || local.status === 'reading' || local.status === 'opening') return;
    const before = local.status;
    this.setLocal({ status: 'reading', error: null, progress: null, skipped: null });
    const paths = files.map((f) => f.webkitRelativePath || f.name);
    const r = await this.askLocalWorker({ type: 'parse', task: want.task, parts: want.parts, files: [...files], paths, source });
    if (r.type !== 'parsed') {
      this.setLocal({ status: before, error: r.type === 'error' ? r.message : `the local data worker answered ${r.type}`, progress: null });
      return;
    }
    this.setLocal({ status: 'ready', summary: r.summary, skipped: r.skipped, error: null, progress: null });
    // A join for another task (the run changed while reading) keeps waiting: it asks for its own.
    if (r.summary.task !== this.localWant?.task) return;
    const waiting = this.localPicked;
    if (waiting) {
      this.localPicked = null;
      waiting.resolve();
    } else if (before === 'ready' && this.session) {
      // The runtime trains on the examples loaded when it joined: a new join loads these.
      this.session.stop();
      this.session.start();
      this.set({ notice: { kind: 'info', text: 'Your new examples are stored on this device: rejoining to train on them.' } });
    }
  }

  private toClientWorker(m: ToClientWorker, transfer: Transferable[] = []): void {
    this.clientWorker?.postMessage(m, transfer);
  }

  private initWorkers(miniClients: number): Promise<void> {
    const channel = new MessageChannel();
    this.trainWorker!.postMessage({ type: 'port', port: channel.port2 } satisfies ToTrainWorker, [channel.port2]);
    return new Promise((resolve) => {
      const w = this.clientWorker!;
      const on = (e: MessageEvent<FromClientWorker>) => {
        if (e.data.type === 'ready') {
          w.removeEventListener('message', on);
          this.set({ resumedRound: e.data.resumedRound });
          resolve();
        }
      };
      w.addEventListener('message', on);
      this.toClientWorker({ type: 'init', miniClients, trainer: channel.port1, backend: this.state.backend ?? 'cpu' }, [channel.port1]);
    });
  }

  /** What the training Worker says unasked: a backend it left, and its memory after each training call. */
  private onTrainWorker(m: FromTrainWorker): void {
    if (m.type === 'backend-switch') {
      const text = describeSwitch(m.change);
      const earlier = this.state.backendSwitch;
      this.set({
        backend: m.change.to,
        backendThreaded: m.threaded,
        backendSwitch: earlier ? `${earlier}; ${text}` : text,
        notice: { kind: 'warn', text },
      });
    } else if (m.type === 'memory') {
      const sample = { backend: m.backend, numTensors: m.numTensors, numBytes: m.numBytes };
      this.set({ tfMemory: [...this.state.tfMemory, sample].slice(-TF_MEMORY_SAMPLES) });
    }
  }

  private onClientWorker(m: FromClientWorker): void {
    switch (m.type) {
      case 'secagg': {
        const type = /"type":"([a-z-]+)"/.exec(m.packed.json)?.[1] ?? '';
        if (type === FIRST_STAGE.collects) this.set({ stage: FIRST_STAGE.displayName, phase: 'secagg' });
        // Upload progress counts messages the coordinator confirmed (it acks once the round has handled them).
        this.session
          ?.sendSecAgg({ json: m.packed.json, bin: new Uint8Array(m.packed.bin) })
          .then((ack) => {
            if (ack.ok)
              this.set({
                progress: { ...this.state.progress, upload: Math.max(this.state.progress.upload, (SECAGG_STEPS.get(type) ?? 0) / SECAGG_MESSAGES) },
              });
            else this.set({ notice: { kind: 'warn', text: `The coordinator did not take this client's ${type} message: ${ack.reason ?? 'no reason given'}` } });
          })
          .catch(() => undefined);
        break;
      }
      case 'report':
        this.onReport(m.report);
        this.session?.report(m.report);
        break;
      case 'metrics':
        this.set({ metrics: m.metrics });
        break;
      case 'identity':
        this.set({
          identity: m.identity,
          ...(m.identity.active
            ? {}
            : { notice: { kind: 'info', text: `Identity ${m.identity.subject} imported: reload the page to take part in PKI mode.` } }),
        });
        break;
      case 'error':
        this.set({ notice: { kind: 'error', text: m.message } });
        break;
      case 'ready':
        break;
    }
  }

  private onReport(r: LocalReport): void {
    const progress = { ...this.state.progress };
    if (r.phase === 'training' && r.progress !== undefined) progress.training = r.progress;
    if (r.phase === 'encoding' && r.progress !== undefined) {
      progress.training = Math.max(progress.training, r.progress);
      progress.encoding = r.progress;
    }
    const patch: Partial<UiState> = { progress };
    if (r.phase === 'training' && r.epoch !== undefined) patch.epochBatch = { epoch: r.epoch, batch: r.batch ?? 0 };
    if (r.phase === 'encoding') {
      patch.stage = 'Encoding (DDG)';
      patch.phase = 'encoding';
    }
    if (r.train) {
      progress.training = 1;
      progress.encoding = 1;
      patch.lastTrain = { loss: r.train.loss, accuracy: r.train.accuracy, examples: r.train.examples, ms: r.train.ms };
    }
    if (r.phase === 'failed') patch.notice = { kind: 'error', text: `This client left the round: ${r.error}` };
    this.set(patch);
  }

  /** PKI mode: hands an identity file (from `hushfl enroll issue`) to the client Worker, which checks and stores it. */
  importIdentity(text: string): void {
    this.toClientWorker({ type: 'import-identity', text });
  }

  /** Forget me: leave, and delete every trace of this client from the browser. */
  async forget(): Promise<void> {
    this.stop();
    await store.forget();
    this.set({
      clientId: null,
      metrics: null,
      localData: null,
      notice: { kind: 'info', text: 'Forgotten: this browser keeps nothing of the client any more.' },
    });
  }

  stop(): void {
    this.set({ connection: 'stopped' });
    this.session?.stop();
    this.trainWorker?.terminate();
    this.clientWorker?.terminate();
    this.localWorker?.terminate();
    this.localWorker = null;
    this.localPicked = null;
    this.siteShards = null;
    this.session = null;
    this.workersReady = null;
  }
}
