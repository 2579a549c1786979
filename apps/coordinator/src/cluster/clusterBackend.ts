/**
 * A coordinator node of a cluster (issue 17 §1): every node holds client connections and serves the pages and
 * the operator API; the one holding the leader lease (lease.ts) runs the run engine. This backend stands
 * where the run manager stands on one machine: on the leader it hands each call to the local manager, on the
 * others it forwards the call to the leader over the bus (bus.ts) and answers from what the leader
 * broadcasts (its events and status). The leader reaches a client on any node through the client's
 * Socket.IO room, which the Redis adapter carries across nodes.
 *
 * Failover: when the leader dies its lease expires, another node takes it, resumes the run from the shared
 * store (the interrupted attempt aborted and re-run, the ledger as written ahead: runPersistence.ts) and asks
 * every node to announce its ready clients again. A node whose heartbeat stops has its clients dropped.
 */
import { EventEmitter } from 'node:events';
import type { Forecast, Report, RunConfig, Status } from '@hushfl/protocol';
import type { SecAggClientMessage } from '@hushfl/secagg';
import type { Server } from 'socket.io';
import { CLIENT_NAMESPACE } from '@hushfl/protocol';
import { clientRoom, type RunBackend } from '../runBackend.ts';
import type { RunManager } from '../runManager.ts';
import { storedRunConfig } from '../runPersistence.ts';
import type { ClientConnection, CoordinatorEvent, Logger } from '../shellTypes.ts';
import type { Store } from '../store.ts';
import type { RunData } from '../taskCache.ts';
import type { BusRequest, ClusterBus } from './bus.ts';
import { LeaderLease } from './lease.ts';

/** The leader's status is broadcast at most this often (and on every run event). */
const STATUS_EVERY_MS = 1_000;
/** The events after which the leader's status is broadcast at once, not on the throttle. */
const STATUS_NOW: ReadonlySet<CoordinatorEvent['type']> = new Set(['run', 'round-start', 'stage', 'round']);
/** A `ready` the leader did not answer is sent again after this long. */
const READY_RETRY_MS = 2_000;

export interface ClusterOptions {
  readonly manager: RunManager;
  readonly bus: ClusterBus;
  readonly io: Server;
  readonly store: Store;
  readonly log: Logger;
  readonly leaseMs: number;
  /** Started by the first leader when the store holds no run at all (`hushfl start --config`). */
  readonly runConfig?: RunConfig;
}

type Remote = { clientId: string; miniClients: number; dataKey: string; node: string };

export class ClusterBackend extends EventEmitter implements RunBackend {
  private readonly lease: LeaderLease;
  /** Not leading: this node's ready clients as announced to the leader (announce retries until it hears). */
  private readonly localReady = new Map<string, Remote>();
  /** Leader: the node holding each client announced from elsewhere. */
  private readonly remote = new Map<string, string>();
  /** Not leading: the leader's last status, and the data of the run it leads. */
  private leaderStatus: Status | null = null;
  private followed: { runId: string; data: RunData } | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private lastStatusAt = 0;
  private closed = false;
  /** Times this node took the lease (failovers are the takeovers after the first). */
  takeovers = 0;

  constructor(private readonly o: ClusterOptions) {
    super();
    this.setMaxListeners(100);
    const { bus } = o;
    this.lease = new LeaderLease(
      bus.redis,
      bus.channel('leader'),
      bus.channel(`node:${bus.nodeId}`),
      bus.nodeId,
      o.leaseMs,
      { acquired: () => this.lead(), lost: (why) => this.stepDown(why) },
      () => this.dropDeadNodes(),
      (e) => o.log.error({ err: e.stack }, 'taking over the run failed'),
    );
    o.manager.on('event', (e: CoordinatorEvent) => {
      if (!this.lease.isLeader) return;
      this.emit('event', e);
      // The released mean is for in-process observers only: other nodes get the public summary.
      const { mean: _m, included: _i, ...wire } = e as CoordinatorEvent & { mean?: unknown; included?: unknown };
      void this.o.bus.publish('events', { from: bus.nodeId, event: wire }).catch(() => undefined);
      // The run's and the rounds' changes reach the other nodes' status at once; client counts and progress
      // (one event per client report: thousands a round) at most once a STATUS_EVERY_MS.
      this.publishStatus(STATUS_NOW.has(e.type));
    });
  }

  get nodeId(): string {
    return this.o.bus.nodeId;
  }

  get isLeader(): boolean {
    return this.lease.isLeader;
  }

  /** Listens to the leader's broadcasts, learns the run in progress, and starts competing for the lease. */
  async start(): Promise<void> {
    const { bus } = this.o;
    await bus.on('events', (v) => void this.heard(v as { from: string; event: CoordinatorEvent }));
    await bus.on('status', (v) => void this.heardStatus(v as { from: string; status: Status }));
    await bus.on('leader', (v) => {
      const m = v as { nodeId: string };
      if (m.nodeId === bus.nodeId) return;
      this.o.log.info({ leader: m.nodeId }, 'another coordinator node leads the run now');
      this.emit('reannounce');
    });
    await this.follow((await this.o.store.activeRuns())[0]?.id ?? null);
    this.lease.start();
    this.statusTimer = setInterval(() => this.publishStatus(false), STATUS_EVERY_MS);
    this.statusTimer.unref();
  }

  // ------------------------------------------------------------ leading

  private async lead(): Promise<void> {
    const { manager, store, bus, log } = this.o;
    this.takeovers++;
    this.remote.clear();
    // Fenced before reading the run or answering a forwarded call: a deposed leader still writing (its event
    // loop stalled past the lease) is refused from here, so what this node resumes is what stays written.
    const fence = (await store.takeFence?.()) ?? null;
    bus.serve((r) => this.answer(r));
    log.info({ node: bus.nodeId, takeover: this.takeovers, fence }, 'this coordinator node leads the run now');
    await manager.load();
    const resumed = await manager.resumeInterrupted();
    if (!resumed.length && this.o.runConfig && !(await store.runs()).length) await manager.createRun(this.o.runConfig);
    this.followed = null;
    this.leaderStatus = null;
    // Clients connected here were announced to the old leader: announce them to this one (the local manager).
    this.emit('reannounce');
    await bus.publish('leader', { nodeId: bus.nodeId });
    this.publishStatus(true);
  }

  private stepDown(why: string): void {
    this.o.log.warn({ node: this.o.bus.nodeId, why }, 'this coordinator node no longer leads: it drops the run (the new leader resumes it)');
    this.o.bus.serve(null);
    this.o.manager.abandon();
    this.remote.clear();
  }

  /** The leader's side of a forwarded call. */
  private async answer(r: BusRequest): Promise<unknown> {
    const { manager } = this.o;
    const a = r.args;
    switch (r.method) {
      case 'ready': {
        const c = a[0] as Remote;
        this.remote.set(c.clientId, c.node);
        manager.clientConnected({ ...c, send: (event, payload) => this.toClient(c.clientId, event, payload) });
        return null;
      }
      case 'gone':
        this.remote.delete(a[0] as string);
        manager.clientDisconnected(a[0] as string);
        return null;
      case 'secagg':
        return manager.onSecAgg(a[0] as string, a[1] as string, a[2] as SecAggClientMessage, a[3] as number);
      case 'liveness':
        manager.onLiveness(a[0] as string, a[1] as string);
        return null;
      case 'report':
        manager.onReport(a[0] as string, a[1] as Report);
        return null;
      case 'status':
        return manager.status(a[0] as string | undefined);
      case 'createRun':
        return manager.createRun(a[0] as RunConfig);
      case 'pause':
        return manager.pause(a[0] as string);
      case 'resume':
        return manager.resume(a[0] as string);
      case 'stop':
        return manager.stop(a[0] as string);
      case 'latestModel':
        return (await manager.latestModel(a[0] as string)) ?? null;
      case 'metricsDocument':
        return (await manager.metricsDocument(a[0] as string)) ?? null;
      default:
        throw new Error(`unknown cluster request ${r.method}`);
    }
  }

  private toClient(clientId: string, event: string, payload: unknown): void {
    this.o.io.of(CLIENT_NAMESPACE).to(clientRoom(clientId)).emit(event, payload);
  }

  /** Clients held by a node whose heartbeat expired: gone (their sockets died with it). */
  private async dropDeadNodes(): Promise<void> {
    if (!this.lease.isLeader || !this.remote.size) return;
    const nodes = new Set(this.remote.values());
    for (const node of nodes) {
      if (node === this.o.bus.nodeId || (await this.lease.nodeAlive(this.o.bus.channel(`node:${node}`)))) continue;
      const gone = [...this.remote].filter(([, n]) => n === node).map(([id]) => id);
      this.o.log.warn({ node, clients: gone.length }, 'a coordinator node stopped: its clients are dropped from the run');
      for (const id of gone) {
        this.remote.delete(id);
        this.o.manager.clientDisconnected(id);
      }
    }
  }

  private publishStatus(force: boolean): void {
    if (!this.lease.isLeader || this.closed) return;
    const now = Date.now();
    if (!force && now - this.lastStatusAt < STATUS_EVERY_MS) return;
    this.lastStatusAt = now;
    void this.o.bus.publish('status', { from: this.o.bus.nodeId, status: this.o.manager.status() }).catch(() => undefined);
  }

  // ------------------------------------------------------------ following

  private async heard(m: { from: string; event: CoordinatorEvent }): Promise<void> {
    if (m.from === this.o.bus.nodeId || this.lease.isLeader) return;
    const e = m.event;
    // The run's data first: the gateway asks for it as it hears that a run started.
    if (e.type === 'run') await this.follow(e.state === 'running' || e.state === 'paused' ? e.runId : null).catch(() => undefined);
    this.emit('event', e);
  }

  /** The leader's status, reported once this node knows the data of the run it names (hellos join for it). */
  private async heardStatus(m: { from: string; status: Status }): Promise<void> {
    if (m.from === this.o.bus.nodeId || this.lease.isLeader) return;
    const s = m.status;
    const live = s.state === 'running' || s.state === 'paused' || s.state === 'waiting';
    await this.follow(live ? s.runId : null).catch(() => undefined);
    if (!this.lease.isLeader) this.leaderStatus = s;
  }

  private async follow(runId: string | null): Promise<void> {
    if (!runId) {
      this.followed = null;
      return;
    }
    if (this.followed?.runId === runId) return;
    const row = await this.o.store.run(runId);
    if (row) this.followed = { runId, data: this.o.manager.dataFor(storedRunConfig(row.config)) };
  }

  /** A call for the leader: the local manager here, else over the bus. */
  private toLeader<T>(method: string, args: unknown[], local: () => T | Promise<T>): Promise<T> {
    if (this.lease.isLeader) return Promise.resolve(local());
    return this.o.bus.request(method, args) as Promise<T>;
  }

  /**
   * Tells the leader a client here is ready, again until it hears (a request lost in a failover would leave
   * the client unselectable for the rest of the run).
   */
  private announce(remote: Remote): void {
    this.o.bus.request('ready', [remote]).catch((e: Error) => {
      if (this.closed || this.lease.isLeader || this.localReady.get(remote.clientId) !== remote) return;
      this.o.log.warn({ clientId: remote.clientId, err: e.message }, 'a ready client did not reach the leader: told again');
      setTimeout(() => {
        if (!this.closed && !this.lease.isLeader && this.localReady.get(remote.clientId) === remote) this.announce(remote);
      }, READY_RETRY_MS).unref();
    });
  }

  private forward(method: string, args: unknown[]): void {
    this.o.bus.request(method, args).catch((e: Error) => this.o.log.warn({ method, err: e.message }, 'a client event did not reach the leader'));
  }

  // ------------------------------------------------------------ RunBackend

  clientConnected(c: ClientConnection): void {
    if (this.lease.isLeader) {
      this.o.manager.clientConnected(c);
      return;
    }
    const remote: Remote = { clientId: c.clientId, miniClients: c.miniClients, dataKey: c.dataKey, node: this.o.bus.nodeId };
    this.localReady.set(c.clientId, remote);
    this.announce(remote);
  }

  clientDisconnected(clientId: string): void {
    if (this.lease.isLeader) {
      this.o.manager.clientDisconnected(clientId);
      return;
    }
    this.localReady.delete(clientId);
    this.forward('gone', [clientId]);
  }

  onSecAgg(clientId: string, roundId: string, message: SecAggClientMessage, bytes: number): Promise<string | null> {
    return this.toLeader('secagg', [clientId, roundId, message, bytes], () => this.o.manager.onSecAgg(clientId, roundId, message, bytes)).catch(
      (e: Error) => `the coordinator could not reach the run's leader: ${e.message}`,
    );
  }

  onLiveness(clientId: string, nonce: string): void {
    if (this.lease.isLeader) {
      this.o.manager.onLiveness(clientId, nonce);
      return;
    }
    this.forward('liveness', [clientId, nonce]);
  }

  onReport(clientId: string, report: Report): void {
    if (this.lease.isLeader) {
      this.o.manager.onReport(clientId, report);
      return;
    }
    this.forward('report', [clientId, report]);
  }

  status(clientId?: string): Status {
    if (this.lease.isLeader || !this.leaderStatus) return this.o.manager.status(clientId);
    return this.leaderStatus;
  }

  currentData(): RunData {
    if (this.lease.isLeader) return this.o.manager.currentData();
    return this.followed?.data ?? this.o.manager.currentData();
  }

  activeRunId(): string | null {
    if (this.lease.isLeader) return this.o.manager.activeRunId();
    const s = this.leaderStatus;
    return s && (s.state === 'running' || s.state === 'paused' || s.state === 'waiting') ? s.runId : (this.followed?.runId ?? null);
  }

  get connectedCount(): number {
    return this.lease.isLeader || !this.leaderStatus ? this.o.manager.connectedCount : this.leaderStatus.clientsConnected;
  }

  createRun(config: RunConfig): Promise<string> {
    return this.toLeader('createRun', [config], () => this.o.manager.createRun(config));
  }

  forecast(config: RunConfig): Promise<Forecast> {
    return this.o.manager.forecast(config);
  }

  pause(id: string): Promise<void> {
    return this.toLeader('pause', [id], () => this.o.manager.pause(id));
  }

  resume(id: string): Promise<void> {
    return this.toLeader('resume', [id], () => this.o.manager.resume(id));
  }

  stop(id: string): Promise<void> {
    return this.toLeader('stop', [id], () => this.o.manager.stop(id));
  }

  async latestModel(id: string): Promise<{ round: number; weights: Float32Array } | undefined> {
    if (this.lease.isLeader || this.activeRunId() !== id) return this.o.manager.latestModel(id);
    return ((await this.o.bus.request('latestModel', [id])) as { round: number; weights: Float32Array } | null) ?? undefined;
  }

  async metricsDocument(id: string): Promise<Buffer | null> {
    const here = await this.o.manager.metricsDocument(id);
    if (here || this.lease.isLeader) return here;
    // The leader writes it (on its own --data); a document of a run led by a node now gone is not served.
    const there = (await this.o.bus.request('metricsDocument', [id]).catch(() => null)) as Uint8Array | null;
    return there ? Buffer.from(there) : null;
  }

  /** Stops leading (the lease handed back, so the next node need not wait for it to expire) and listening. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.statusTimer) clearInterval(this.statusTimer);
    await this.lease.stop();
    this.o.bus.serve(null);
  }
}
