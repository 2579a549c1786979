/** RateLimitedLog on a hand-driven clock: the first hit at once, then at most one summary line per interval. */
import { describe, expect, it } from 'vitest';
import { RateLimitedLog, type Schedule } from './rateLimitedLog.ts';
import type { Logger } from './runManager.ts';

/** A clock moved by the test: `advance(ms)` runs what falls due, in order. */
function manualClock() {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  const schedule: Schedule = (fn, ms) => {
    const t = { at: now + ms, fn };
    timers.push(t);
    return () => {
      timers = timers.filter((x) => x !== t);
    };
  };
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      timers = timers.filter((t) => t !== due);
      now = due.at;
      due.fn();
    }
    now = end;
  };
  return { schedule, advance, pending: () => timers.length };
}

function recorder() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string | undefined }[] = [];
  const at =
    (level: string) =>
    (obj: object | string, msg?: string): void =>
      void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const log: Logger = { info: at('info'), warn: at('warn'), error: at('error') };
  return { log, lines };
}

describe('RateLimitedLog', () => {
  it('logs the first hit at once, then one summary per interval with the count since the last line', () => {
    const clock = manualClock();
    const { log, lines } = recorder();
    const r = new RateLimitedLog(log, 'warn', 'refused client connections (origin)', 10_000, clock.schedule);
    r.hit({ origin: 'https://a.example' });
    expect(lines).toEqual([{ level: 'warn', obj: { origin: 'https://a.example', count: 1 }, msg: 'refused client connections (origin)' }]);

    // 1000 hits over the next 25 s: one line at 10 s and one at 20 s, never one per hit.
    for (let i = 0; i < 1000; i++) {
      clock.advance(25);
      r.hit({ origin: `https://b${i}.example` });
    }
    expect(lines).toHaveLength(3);
    const counted = lines.slice(1).map((l) => l.obj.count as number);
    expect(counted.reduce((a, b) => a + b, 0)).toBe(20_000 / 25 - 1); // the loop's hits before t = 20 s
    expect(lines[1]).toMatchObject({ level: 'warn', obj: { summary: true }, msg: 'refused client connections (origin)' });
    expect(lines[1]!.obj.count).toBe(10_000 / 25 - 1); // the loop's hits before t = 10 s
    expect(r.total).toBe(1001);

    // The rest is reported at the end of its interval, with the latest hit's fields.
    clock.advance(10_000);
    expect(lines).toHaveLength(4);
    expect(lines[3]!.obj).toEqual({ origin: 'https://b999.example', count: 1000 - 799, summary: true });
    expect(lines.slice(1).reduce((a, l) => a + (l.obj.count as number), 0)).toBe(1000);
  });

  it('after a quiet interval the next hit is logged at once again, and no timer is left running', () => {
    const clock = manualClock();
    const { log, lines } = recorder();
    const r = new RateLimitedLog(log, 'info', 'x', 1000, clock.schedule);
    r.hit();
    clock.advance(1000);
    expect(lines).toHaveLength(1); // nothing pending: no summary line
    expect(clock.pending()).toBe(0);
    clock.advance(60_000);
    r.hit({ n: 2 });
    expect(lines.map((l) => l.obj)).toEqual([{ count: 1 }, { n: 2, count: 1 }]);
  });

  it('close() logs what is pending and cancels the timer', () => {
    const clock = manualClock();
    const { log, lines } = recorder();
    const r = new RateLimitedLog(log, 'error', 'y', 10_000, clock.schedule);
    r.hit();
    r.hit({ k: 'last' });
    r.hit({ k: 'latest' });
    r.close();
    expect(lines.map((l) => l.obj)).toEqual([{ count: 1 }, { k: 'latest', count: 2, summary: true }]);
    expect(clock.pending()).toBe(0);
    expect(lines.every((l) => l.level === 'error')).toBe(true);
  });

  it('refuses an interval that is not positive', () => {
    const { log } = recorder();
    expect(() => new RateLimitedLog(log, 'warn', 'z', 0)).toThrow(/interval must be > 0 ms, got 0/);
  });
});
