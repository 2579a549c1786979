/**
 * What coordinator nodes say to each other, over Redis (issue 17 §1): broadcasts (the leader's run events,
 * a new leader's announcement) and requests to whichever node leads now (a client's `ready` or SecAgg
 * message held by another node, an operator's pause), answered on the asking node's own channel. Pub/sub,
 * not streams: a message in flight when a leader dies is lost, and that is what failover already handles
 * (the interrupted attempt is aborted and re-run; its clients' acks time out and they resend).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { decodeFrame, encodeFrame } from './frame.ts';

export interface BusRequest {
  readonly id: string;
  readonly from: string;
  readonly method: string;
  readonly args: readonly unknown[];
}

type Reply = { id: string; ok: true; value: unknown } | { id: string; ok: false; error: string };

/** A request nobody answered in time: no node leads right now (a failover), or the leader is overloaded. */
export class NoLeaderError extends Error {}

export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

export class ClusterBus {
  private readonly pending = new Map<string, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private readonly handlers = new Map<string, ((value: unknown) => void)[]>();
  private server: ((r: BusRequest) => Promise<unknown>) | null = null;

  private constructor(
    /** Commands (publish, the lease, heartbeats). */
    readonly redis: Redis,
    private readonly sub: Redis,
    readonly nodeId: string,
    readonly prefix: string,
  ) {
    sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.received(channel.toString(), message));
  }

  static async connect(url: string, nodeId: string, prefix = 'hushfl'): Promise<ClusterBus> {
    const options = { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true };
    const redis = new Redis(url, options);
    const sub = new Redis(url, options);
    // A dropped connection is retried by ioredis; its error events must not crash the node.
    for (const r of [redis, sub]) r.on('error', () => undefined);
    await Promise.all([redis.connect(), sub.connect()]);
    const bus = new ClusterBus(redis, sub, nodeId, prefix);
    await sub.subscribe(bus.channel('rpc'), bus.channel(`reply:${nodeId}`));
    return bus;
  }

  channel(name: string): string {
    return `${this.prefix}:${name}`;
  }

  /** A broadcast to every node (this one included). */
  async publish(name: string, value: unknown): Promise<void> {
    await this.redis.publish(this.channel(name), encodeFrame(value));
  }

  /** Hears broadcasts on `name`. */
  async on(name: string, handler: (value: unknown) => void): Promise<void> {
    const ch = this.channel(name);
    const list = this.handlers.get(ch);
    if (list) list.push(handler);
    else {
      this.handlers.set(ch, [handler]);
      await this.sub.subscribe(ch);
    }
  }

  /**
   * Answers requests while `serve` is set (the leader); the others ignore them. A handler's rejection is sent
   * back as the request's error.
   */
  serve(handler: ((r: BusRequest) => Promise<unknown>) | null): void {
    this.server = handler;
  }

  /** A request to the leader; rejects with its error, or NoLeaderError when no answer comes in time. */
  request(method: string, args: readonly unknown[], timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<unknown> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new NoLeaderError(`no coordinator node answered ${method} within ${timeoutMs / 1000} s (no leader right now?)`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.redis.publish(this.channel('rpc'), encodeFrame({ id, from: this.nodeId, method, args } satisfies BusRequest)).catch((e: Error) => {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(e);
      });
    });
  }

  private received(channel: string, message: Buffer): void {
    let value: unknown;
    try {
      value = decodeFrame(message);
    } catch {
      return; // not ours (another program on the same channel names) or torn: nothing to answer
    }
    if (channel === this.channel('rpc')) return void this.answer(value as BusRequest);
    if (channel === this.channel(`reply:${this.nodeId}`)) {
      const r = value as Reply;
      const p = this.pending.get(r.id);
      if (!p) return; // answered after its timeout
      this.pending.delete(r.id);
      clearTimeout(p.timer);
      if (r.ok) p.resolve(r.value);
      else p.reject(new Error(r.error));
      return;
    }
    for (const h of this.handlers.get(channel) ?? []) h(value);
  }

  private async answer(r: BusRequest): Promise<void> {
    const server = this.server;
    if (!server || typeof r?.id !== 'string' || typeof r.from !== 'string' || typeof r.method !== 'string' || !Array.isArray(r.args)) return;
    let reply: Reply;
    try {
      reply = { id: r.id, ok: true, value: (await server(r)) ?? null };
    } catch (e) {
      reply = { id: r.id, ok: false, error: (e as Error).message ?? String(e) };
    }
    await this.redis.publish(this.channel(`reply:${r.from}`), encodeFrame(reply)).catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new NoLeaderError('this node is shutting down'));
    }
    this.pending.clear();
    this.server = null;
    this.sub.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
