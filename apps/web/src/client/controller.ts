/**
 * The page's controller on the main thread: UI state, the two Workers, and relay between them and the
 * coordinator. packages/client's ClientSession speaks to the coordinator (hello and resume, shards, `ready`,
 * validation) over the Socket.IO socket, with the identity and shards in IndexedDB. It never trains or
 * encrypts: the two Workers do (training; DDG encoding and SecAgg). State for the UI is a plain object.
 */
import { describeSecAggGuarantee, secaggGuaranteeOf } from '@hushfl/secagg/params';
import { io } from 'socket.io-client';
import type { ClientMetrics, LocalReport } from '@hushfl/client';
import { describeSwitch } from '@hushfl/client/backendFallback';
import { httpErrorMessage } from '@hushfl/client/httpError';
import { ClientSession, socketIoTransport, type SessionHandlers } from '@hushfl/client/session';
import { CLIENT_NAMESPACE, type Packed, type Status } from '@hushfl/protocol';
// The stage table alone: the main thread never needs the SecAgg crypto code.
import { SECAGG_STAGE_TABLE, stageOpenedBy, stageSpec } from '@hushfl/secagg/stages';
import { store } from './store.ts';
import type { FromClientWorker, FromTrainWorker, IdentityInfo, TfMemory, ToClientWorker, ToTrainWorker } from './workers/messages.ts';

export type Connection = 'starting' | 'connecting' | 'connected' | 'unreachable' | 'stopped';

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
}

export class ClientController {
  state: UiState;
  private listeners = new Set<(s: UiState) => void>();
  private session: ClientSession | null = null;
  private trainWorker: Worker | null = null;
  private clientWorker: Worker | null = null;
  private workersReady: Promise<void> | null = null;

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
      progress: { training: 0, encoding: 0, upload: 0 },
      epochBatch: null,
      lastTrain: null,
      globalAccuracy: null,
      metrics: null,
      notice: null,
      insecure: typeof window !== 'undefined' && !window.isSecureContext,
      resumedRound: null,
      identity: null,
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

  async start(opts: StartOptions): Promise<void> {
    const url = opts.url ?? this.state.coordinator;
    const known = await store.identity();
    const miniClients = known?.miniClients ?? opts.miniClients;
    this.set({ miniClients, coordinator: url, connection: 'connecting' });
    if (!globalThis.crypto?.subtle) {
      this.set({
        insecure: true,
        notice: { kind: 'error', text: 'This page is not in a secure context, so WebCrypto is missing: open it over HTTPS (or on localhost).' },
      });
      return;
    }
    this.trainWorker = new Worker(new URL('./workers/train.worker.ts', import.meta.url), { type: 'module' });
    this.clientWorker = new Worker(new URL('./workers/client.worker.ts', import.meta.url), { type: 'module' });
    this.clientWorker.onmessage = (e: MessageEvent<FromClientWorker>) => this.onClientWorker(e.data);
    this.trainWorker.addEventListener('message', (e: MessageEvent<FromTrainWorker>) => this.onTrainWorker(e.data));
    const backend = await this.askTrainWorker({ type: 'backend', forced: opts.backend }, 'backend');
    if (backend.type !== 'backend') return;
    this.set({ backend: backend.backend, backendThreaded: backend.threaded });

    const socket = io(new URL(CLIENT_NAMESPACE, url).toString(), { transports: ['websocket'], reconnectionDelayMax: 5000, autoConnect: false });
    this.session = new ClientSession({
      transport: socketIoTransport(socket),
      identities: { load: () => store.identity(), save: (identity) => store.setIdentity(identity), forget: () => store.forget() },
      coordinatorUrl: url,
      fetchShard: async (shardUrl, headers) => {
        const res = await fetch(shardUrl, { headers });
        if (!res.ok) throw new Error(httpErrorMessage(res.status, await res.text()));
        return new Uint8Array(await res.arrayBuffer());
      },
      shardCache: { get: (index) => store.shard(index), put: (index, bytes) => store.setShard(index, bytes) },
      hello: {
        miniClients,
        backend: this.state.backend ?? undefined,
        userAgent: navigator.userAgent.slice(0, 256),
        ...(opts.joinCode ? { joinCode: opts.joinCode } : {}),
      },
      handlers: this.sessionHandlers(url, miniClients),
    });
    this.session.start();
  }

  /** What the page does with each session event: UI state, and relay to the Workers. */
  private sessionHandlers(url: string, miniClients: number): SessionHandlers {
    return {
      onConnectError: () => this.set({ connection: 'unreachable', notice: { kind: 'error', text: `The coordinator at ${url} is unreachable; retrying…` } }),
      onDisconnect: (reason) => {
        if (this.state.connection === 'stopped') return;
        this.set({ connection: 'unreachable', notice: { kind: 'warn', text: `Disconnected from the coordinator (${reason}); reconnecting…` } });
      },
      onJoined: (ack) =>
        this.set({
          clientId: ack.clientId,
          connection: 'connected',
          insecure: this.state.insecure || ack.insecureContext,
          notice: { kind: 'info', text: ack.resumed ? 'Rejoined as the same client.' : 'Joined: waiting to be selected for a round.' },
        }),
      onRefused: (error) => this.set({ notice: { kind: 'error', text: `The coordinator refused this client: ${error}` } }),
      onShardsLoaded: async (shards) => {
        const r = await this.askTrainWorker({ type: 'shards', indices: shards.map((s) => s.index) }, 'shards');
        if (r.type === 'shards') this.set({ examples: r.examples });
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
          progress: { training: 0, encoding: 0, upload: 0 },
          epochBatch: null,
          notice: { kind: 'info', text: `Selected for round ${task.round + 1}: training on this device's data.` },
        });
        // The client Worker takes the envelope as received (its buffer moves there, not a copy).
        this.toClientWorker({ type: 'task', packed: envelope }, transferOf(envelope));
      },
      onSecAgg: ({ message }, envelope) => {
        const opens = STAGE_NAMES.get(message.type);
        if (opens) this.set({ stage: opens });
        this.toClientWorker({ type: 'secagg', packed: envelope }, transferOf(envelope));
      },
      onRoundEnd: (end) => {
        this.toClientWorker({ type: 'round-end', payload: end });
        const text =
          end.status === 'completed'
            ? `Round ${end.round + 1} completed${end.included ? ' with this tab’s update in the sum' : ' without this tab'}: global accuracy ${((end.accuracy ?? 0) * 100).toFixed(1)} %.`
            : `Round ${end.round + 1} was aborted: ${end.reason ?? 'no reason given'}. It will be re-run.`;
        this.set({
          stage: end.status === 'completed' ? 'Done' : 'Aborted',
          notice: { kind: end.status === 'completed' ? 'info' : 'warn', text },
          ...(end.accuracy !== undefined ? { globalAccuracy: end.accuracy } : {}),
        });
      },
    };
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
        if (type === FIRST_STAGE.collects) this.set({ stage: FIRST_STAGE.displayName });
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
    if (r.phase === 'encoding') patch.stage = 'Encoding (DDG)';
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
    this.set({ clientId: null, metrics: null, notice: { kind: 'info', text: 'Forgotten: this browser keeps nothing of the client any more.' } });
  }

  stop(): void {
    this.set({ connection: 'stopped' });
    this.session?.stop();
    this.trainWorker?.terminate();
    this.clientWorker?.terminate();
    this.session = null;
    this.workersReady = null;
  }
}
