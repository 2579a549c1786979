/**
 * Which node leads (issue 17 §1): a lease in Redis, `SET key node NX PX ttl`, renewed by its holder every
 * ttl/3 with a compare-and-extend script. A leader that dies stops renewing; within ttl the key expires and
 * the next node to try (every ttl/3) takes it: failover within ttl + ttl/3 of the death, plus the time to
 * resume the run from the store. A leader that cannot renew in time (Redis unreachable, its event loop
 * stalled) gives the run up at once, before the key can have expired elsewhere. Each node also keeps a
 * heartbeat key alive, so the leader can tell when a node holding client connections has died.
 */
import type { Redis } from 'ioredis';

// KEYS[1] the lease, ARGV[1] this node, ARGV[2] ttl ms: extend only a lease we hold.
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export const DEFAULT_LEASE_MS = 10_000;

export interface LeaseEvents {
  /** This node now leads (resume the run from the store). */
  acquired(): Promise<void> | void;
  /** This node no longer leads (drop the run without writing). */
  lost(why: string): void;
}

export class LeaderLease {
  private leading = false;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private renewedAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly heartbeatKey: string,
    readonly nodeId: string,
    readonly ttlMs: number,
    private readonly events: LeaseEvents,
    private readonly onTick: () => Promise<void> | void = () => undefined,
    private readonly onError: (e: Error) => void = () => undefined,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts trying (at once, then every ttl/3); after pause(), resumes. */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.ticking ??= this.tick().finally(() => {
        this.ticking = null;
      });
    };
    tick();
    this.timer = setInterval(tick, Math.max(50, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.redis.set(this.heartbeatKey, String(Date.now()), 'PX', this.ttlMs);
      if (this.leading) {
        // Past the ttl since the last good renewal the key may be someone else's by now: give up first.
        const renewed = Date.now() - this.renewedAt < this.ttlMs && (await this.redis.eval(RENEW, 1, this.key, this.nodeId, this.ttlMs)) === 1;
        if (renewed) this.renewedAt = Date.now();
        else this.lose('the leader lease was not renewed in time');
      } else {
        const started = Date.now();
        if ((await this.redis.set(this.key, this.nodeId, 'PX', this.ttlMs, 'NX')) === 'OK') {
          this.leading = true;
          this.renewedAt = started;
          // Not awaited: resuming a run can take longer than the ttl, and the lease must be renewed meanwhile.
          void Promise.resolve()
            .then(() => this.events.acquired())
            .catch((e: Error) => this.onError(e));
        }
      }
      await this.onTick();
    } catch (e) {
      if (this.leading && Date.now() - this.renewedAt >= this.ttlMs) this.lose(`the leader lease could not be renewed: ${(e as Error).message}`);
    }
  }

  private lose(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.events.lost(why);
  }

  /** Whether a node's heartbeat is alive. */
  async nodeAlive(heartbeatKey: string): Promise<boolean> {
    return (await this.redis.exists(heartbeatKey)) === 1;
  }

  /**
   * Stops trying without handing the lease back, as a process frozen by a stall would: the lease runs out
   * elsewhere, and this node learns that it lost it at its first renewal after start().
   */
  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops renewing; hands the lease back (a clean shutdown: the next node need not wait for the ttl). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
    if (this.leading) {
      this.leading = false;
      await this.redis.eval(RELEASE, 1, this.key, this.nodeId).catch(() => undefined);
    }
    await this.redis.del(this.heartbeatKey).catch(() => undefined);
  }
}
