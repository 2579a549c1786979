/**
 * The page's controller on the main thread: the Socket.IO connection to the coordinator, the identity in
 * IndexedDB, shard downloads, and message relay between the socket and the Workers. It never trains or
 * encrypts: the two Workers do (training; DDG encoding and SecAgg). State for the UI is a plain object.
 */
import { io, type Socket } from 'socket.io-client';
import type { ClientMetrics } from '@hushfl/client';
import { CLIENT_NAMESPACE, EVENTS, PROTOCOL_VERSION, helloAckSchema, roundEndSchema, statusSchema, type Report, type Status } from '@hushfl/protocol';
import { store, type Identity } from './store.ts';
import type { FromClientWorker, FromTrainWorker, ToClientWorker, ToTrainWorker } from './workers/messages.ts';

export type Connection = 'starting' | 'connecting' | 'connected' | 'unreachable' | 'stopped';

export interface UiState {
  connection: Connection;
  coordinator: string;
  clientId: string | null;
  backend: string | null;
  /** WASM only: whether the threaded SIMD build runs (the page is cross-origin isolated). */
  backendThreaded: boolean;
  miniClients: number;
  examples: number[];
  run: Status | null;
  round: { roundId: string; round: number; attempt: number } | null;
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
  /** Set once `stallAfter` took effect: this tab stopped answering the coordinator. */
  stalled: boolean;
}

const SECAGG_STEPS: Record<string, number> = { 'advertise-keys': 1, 'share-keys': 2, 'masked-input': 3, 'consistency-signature': 4, 'unmask-shares': 5 };
const STAGE_NAMES: Record<string, string> = {
  'neighbour-keys': 'ShareKeys',
  'shares-for-you': 'MaskedInputCollection',
  survivors: 'ConsistencyCheck',
  'unmask-request': 'Unmasking',
};

export interface StartOptions {
  readonly url?: string;
  readonly miniClients: number;
  readonly backend: string | null;
}

export class ClientController {
  state: UiState;
  private listeners = new Set<(s: UiState) => void>();
  private socket: Socket | null = null;
  private trainWorker: Worker | null = null;
  private clientWorker: Worker | null = null;
  private workersReady: Promise<void> | null = null;
  private stallAfterType: string | null = null;
  /** True from the moment the stall message is sent: nothing more reaches the Workers. */
  private deaf = false;

  /**
   * Simulates a device that stops responding (used by the browser suites): after this tab sends its `type`
   * SecAgg message, nothing further from the coordinator reaches the Workers; `state.stalled` turns true once
   * the coordinator has confirmed it took that message.
   */
  stallAfter(type: 'advertise-keys' | 'share-keys' | 'masked-input' | 'consistency-signature'): void {
    this.stallAfterType = type;
  }

  constructor(coordinator = globalThis.location?.origin ?? '') {
    this.state = {
      connection: 'starting',
      coordinator,
      clientId: null,
      backend: null,
      backendThreaded: false,
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
      stalled: false,
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
    const backend = await this.askTrainWorker({ type: 'backend', forced: opts.backend }, 'backend');
    if (backend.type !== 'backend') return;
    this.set({ backend: backend.backend, backendThreaded: backend.threaded });

    const socket = io(new URL(CLIENT_NAMESPACE, url).toString(), { transports: ['websocket'], reconnectionDelayMax: 5000 });
    this.socket = socket;
    socket.on('connect', () => void this.hello(miniClients));
    socket.on('connect_error', () =>
      this.set({ connection: 'unreachable', notice: { kind: 'error', text: `The coordinator at ${url} is unreachable; retrying…` } }),
    );
    socket.on('disconnect', (reason) => {
      if (this.state.connection === 'stopped') return;
      this.set({ connection: 'unreachable', notice: { kind: 'warn', text: `Disconnected from the coordinator (${reason}); reconnecting…` } });
    });
    socket.on(EVENTS.bye, (p: { reason?: string }) =>
      this.set({ notice: { kind: 'error', text: `The coordinator closed the session: ${p?.reason ?? 'no reason given'}` } }),
    );
    socket.on(EVENTS.status, (p: unknown) => {
      const s = statusSchema.safeParse(p);
      if (!s.success) return;
      const patch: Partial<UiState> = { run: s.data };
      if (s.data.selected === false && s.data.state === 'running') {
        patch.selected = false;
        patch.notice = { kind: 'info', text: `This tab was not selected for round ${s.data.round + 1}; it waits for the next one.` };
      }
      this.set(patch);
    });
    socket.on(EVENTS.task, (p: { json: string; bin: ArrayBuffer }) => {
      const meta = JSON.parse(p.json) as { roundId: string; round: number; attempt: number };
      this.set({
        round: { roundId: meta.roundId, round: meta.round, attempt: meta.attempt },
        selected: true,
        stage: 'Training',
        progress: { training: 0, encoding: 0, upload: 0 },
        epochBatch: null,
        notice: { kind: 'info', text: `Selected for round ${meta.round + 1}: training on this device's data.` },
      });
      this.toClientWorker({ type: 'task', packed: p }, [p.bin]);
    });
    socket.on(EVENTS.secagg, (p: { json: string; bin: ArrayBuffer }) => {
      if (this.deaf) return;
      const type = /"type":"([a-z-]+)"/.exec(p.json)?.[1];
      if (type && STAGE_NAMES[type]) this.set({ stage: STAGE_NAMES[type]! });
      this.toClientWorker({ type: 'secagg', packed: p }, [p.bin]);
    });
    socket.on(EVENTS.roundEnd, (p: unknown) => {
      const r = roundEndSchema.safeParse(p);
      if (!r.success) return;
      this.toClientWorker({ type: 'round-end', payload: r.data });
      const text =
        r.data.status === 'completed'
          ? `Round ${r.data.round + 1} completed${r.data.included ? ' with this tab’s update in the sum' : ' without this tab'}: global accuracy ${((r.data.accuracy ?? 0) * 100).toFixed(1)} %.`
          : `Round ${r.data.round + 1} was aborted: ${r.data.reason ?? 'no reason given'}. It will be re-run.`;
      this.set({
        stage: r.data.status === 'completed' ? 'Done' : 'Aborted',
        notice: { kind: r.data.status === 'completed' ? 'info' : 'warn', text },
        ...(r.data.accuracy !== undefined ? { globalAccuracy: r.data.accuracy } : {}),
      });
    });
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

  private async hello(miniClients: number): Promise<void> {
    const socket = this.socket!;
    const known = await store.identity();
    const raw = await socket.timeout(15_000).emitWithAck(EVENTS.hello, {
      v: PROTOCOL_VERSION,
      miniClients,
      backend: this.state.backend ?? undefined,
      userAgent: navigator.userAgent.slice(0, 256),
      ...(known ? { resume: { clientId: known.clientId, sessionToken: known.sessionToken } } : {}),
    });
    const ack = helloAckSchema.parse(raw);
    if (!ack.ok) {
      if (known && /unknown session/.test(ack.error)) {
        // The coordinator does not know us any more (a new database): start over as a new client.
        await store.forget();
        socket.connect();
        return;
      }
      this.set({ notice: { kind: 'error', text: `The coordinator refused this client: ${ack.error}` } });
      return;
    }
    const identity: Identity = { clientId: ack.clientId, sessionToken: ack.sessionToken, miniClients, shards: ack.shards };
    await store.setIdentity(identity);
    this.set({
      clientId: ack.clientId,
      connection: 'connected',
      insecure: this.state.insecure || ack.insecureContext,
      notice: { kind: 'info', text: ack.resumed ? 'Rejoined as the same client.' : 'Joined: waiting to be selected for a round.' },
    });
    await this.loadShards(ack.shardUrl, identity);
    this.workersReady ??= this.initWorkers(miniClients);
    await this.workersReady;
    socket.emit(EVENTS.ready);
  }

  private async loadShards(shardUrl: string, id: Identity): Promise<void> {
    for (const index of id.shards) {
      if (await store.shard(index)) continue;
      const res = await fetch(new URL(`${shardUrl}${index}`, this.state.coordinator), { headers: { 'x-hushfl-session': `${id.clientId}:${id.sessionToken}` } });
      if (!res.ok) throw new Error(`shard ${index}: HTTP ${res.status}`);
      await store.setShard(index, new Uint8Array(await res.arrayBuffer()));
    }
    const r = await this.askTrainWorker({ type: 'shards', indices: id.shards }, 'shards');
    if (r.type === 'shards') this.set({ examples: r.examples });
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

  private onClientWorker(m: FromClientWorker): void {
    switch (m.type) {
      case 'secagg': {
        const type = /"type":"([a-z-]+)"/.exec(m.packed.json)?.[1] ?? '';
        if (type === 'advertise-keys') this.set({ stage: 'AdvertiseKeys' });
        if (type === this.stallAfterType) this.deaf = true;
        // Upload progress counts messages the coordinator confirmed (it acks once the round has handled them).
        void this.socket
          ?.timeout(60_000)
          .emitWithAck(EVENTS.secagg, { json: m.packed.json, bin: new Uint8Array(m.packed.bin) })
          .then((ack: { ok: boolean; reason?: string }) => {
            if (ack.ok) {
              this.set({ progress: { ...this.state.progress, upload: Math.max(this.state.progress.upload, (SECAGG_STEPS[type] ?? 0) / 5) } });
              if (type === this.stallAfterType) this.set({ stalled: true });
            } else
              this.set({ notice: { kind: 'warn', text: `The coordinator did not take this client's ${type} message: ${ack.reason ?? 'no reason given'}` } });
          })
          .catch(() => undefined);
        break;
      }
      case 'report':
        this.onReport(m.report);
        this.socket?.emit(EVENTS.report, m.report);
        break;
      case 'metrics':
        this.set({ metrics: m.metrics });
        break;
      case 'error':
        this.set({ notice: { kind: 'error', text: m.message } });
        break;
      case 'ready':
        break;
    }
  }

  private onReport(r: Report): void {
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

  /** Forget me: leave, and delete every trace of this client from the browser. */
  async forget(): Promise<void> {
    this.stop();
    await store.forget();
    this.set({ clientId: null, metrics: null, notice: { kind: 'info', text: 'Forgotten: this browser keeps nothing of the client any more.' } });
  }

  stop(): void {
    this.set({ connection: 'stopped' });
    this.socket?.disconnect();
    this.trainWorker?.terminate();
    this.clientWorker?.terminate();
    this.socket = null;
    this.workersReady = null;
  }
}
