/**
 * A log line that an attacker cannot turn into a flood: the first hit is logged at once, later hits are
 * counted, and while they keep coming one summary line per interval says how many there were since the
 * previous line. Used for refused connections (origins.ts) and meant for any event a peer can repeat at will.
 */
import type { Logger } from './runManager.ts';

export type LogLevel = 'info' | 'warn' | 'error';

/** Runs `fn` once after `ms`; returns a function that cancels it. */
export type Schedule = (fn: () => void, ms: number) => () => void;

/** setTimeout, unref'd: a pending summary never keeps the process alive. */
const realSchedule: Schedule = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

export class RateLimitedLog {
  /** Hits since the last line. */
  private pending = 0;
  private last: Readonly<Record<string, unknown>> = {};
  /** Cancels the end of the current interval; null while no interval is open (the next hit logs at once). */
  private cancel: (() => void) | null = null;
  /** Every hit since construction. */
  total = 0;

  constructor(
    private readonly log: Logger,
    private readonly level: LogLevel,
    private readonly message: string,
    private readonly intervalMs = 10_000,
    private readonly schedule: Schedule = realSchedule,
  ) {
    if (!(intervalMs > 0)) throw new RangeError(`RateLimitedLog interval must be > 0 ms, got ${intervalMs}`);
  }

  /**
   * Counts one occurrence. The first of a quiet spell is logged at once with its `fields` and `count: 1`; a
   * summary line carries the latest hit's fields, `count` (hits since the previous line) and `summary: true`.
   */
  hit(fields: Readonly<Record<string, unknown>> = {}): void {
    this.total++;
    if (this.cancel) {
      this.pending++;
      this.last = fields;
      return;
    }
    this.log[this.level]({ ...fields, count: 1 }, this.message);
    this.open();
  }

  /** Logs what is pending now and stops the timer (on shutdown). */
  close(): void {
    this.cancel?.();
    this.cancel = null;
    this.flush();
  }

  private open(): void {
    this.cancel = this.schedule(() => {
      this.cancel = null;
      // A quiet interval closes the window: the next hit is news again and is logged at once.
      if (this.flush()) this.open();
    }, this.intervalMs);
  }

  private flush(): boolean {
    if (this.pending === 0) return false;
    this.log[this.level]({ ...this.last, count: this.pending, summary: true }, this.message);
    this.pending = 0;
    this.last = {};
    return true;
  }
}
