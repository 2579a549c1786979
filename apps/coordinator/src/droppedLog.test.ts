/** Dropped-message logs are bounded: per kind, the first drop at once and then one summary line per interval. */
import { describe, expect, it } from 'vitest';
import { DroppedLog, MAX_KINDS } from './droppedLog.ts';
import type { Schedule } from './rateLimitedLog.ts';

function recorder() {
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = {
    info: () => {},
    error: () => {},
    warn: (obj: object | string, msg?: string) => void lines.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' }),
  };
  return { lines, log };
}

/** Timers the test fires by hand. */
function manualTimers() {
  let due: (() => void)[] = [];
  const schedule: Schedule = (fn) => {
    due.push(fn);
    return () => {
      due = due.filter((f) => f !== fn);
    };
  };
  const fire = () => {
    const now = due;
    due = [];
    for (const fn of now) fn();
  };
  return { schedule, fire, pending: () => due.length };
}

describe('DroppedLog', () => {
  it('logs a flood of one kind as its first drop and one summary with the count', () => {
    const { lines, log } = recorder();
    const timers = manualTimers();
    const d = new DroppedLog(log, 10_000, timers.schedule);
    for (let i = 0; i < 1000; i++) d.hit('rate-limit', 'dropped a client message: rate limit exceeded', { socket: `s${i}` });
    expect(lines).toEqual([{ obj: { socket: 's0', class: 'rate-limit', count: 1 }, msg: 'dropped a client message: rate limit exceeded' }]);
    timers.fire();
    expect(lines[1]).toEqual({ obj: { socket: 's999', class: 'rate-limit', count: 999, summary: true }, msg: 'dropped a client message: rate limit exceeded' });
    timers.fire(); // a quiet interval: nothing more
    expect(lines).toHaveLength(2);
    expect(timers.pending()).toBe(0);
  });

  it('keeps distinct reasons of a class apart (numbers aside) up to MAX_KINDS; later ones share one line', () => {
    const { lines, log } = recorder();
    const timers = manualTimers();
    const d = new DroppedLog(log, 10_000, timers.schedule);
    d.hit('schema', 'binary reference [0, 99] is outside the 4-byte buffer', {});
    d.hit('schema', 'binary reference [3, 12] is outside the 8-byte buffer', {}); // the same shape: counted
    for (let i = 0; i < 100; i++) d.hit('schema', `Unrecognized key: "${String.fromCharCode(97 + (i % 26)).repeat(1 + Math.floor(i / 26))}"`, {});
    d.hit('unknown-event', 'dropped a client message: unknown event', {});
    // The binary reference, MAX_KINDS − 1 keys on their own lines, one "other reasons" line, the other class.
    expect(lines).toHaveLength(MAX_KINDS + 2);
    expect(lines[MAX_KINDS]).toEqual({
      obj: { class: 'schema', message: `Unrecognized key: "${String.fromCharCode(97 + MAX_KINDS - 1)}"`, count: 1 },
      msg: 'dropped client messages (schema, other reasons)',
    });
    d.close();
    const summaries = lines.slice(MAX_KINDS + 2);
    expect(summaries.map((l) => [l.msg, l.obj.count])).toEqual([
      ['binary reference [0, 99] is outside the 4-byte buffer', 1],
      ['dropped client messages (schema, other reasons)', 100 - (MAX_KINDS - 1) - 1],
    ]);
    expect(timers.pending()).toBe(0);
  });
});
