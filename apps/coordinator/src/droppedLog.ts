/**
 * Bounded logging of dropped client messages (issue 13 §2: "log volume is bounded"): one RateLimitedLog per
 * kind of drop — an abuse class and the shape of its message — so a flood logs its first drop at once and then
 * one summary line with the count per interval, never a line per message. A class keeps its first MAX_KINDS
 * shapes apart (an operator sees which schema check failed); later shapes share one "other reasons" line of
 * the class, with the message in its fields. So the lines per interval are bounded by the classes, whatever a
 * client sends, and so is the memory.
 */
import { RateLimitedLog, type Schedule } from './rateLimitedLog.ts';
import type { Logger } from './runManager.ts';

/** Distinct message shapes a class logs on their own lines. */
export const MAX_KINDS = 8;

/** A message's shape: numbers (sizes, offsets, counts) do not make a new kind; long texts are cut. */
function shapeOf(message: string): string {
  return message.replace(/\d+/g, '#').slice(0, 200);
}

export class DroppedLog {
  private readonly kinds = new Map<string, RateLimitedLog>();
  private readonly perClass = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly schedule?: Schedule,
  ) {}

  /** One dropped message of class `cls`, with the line it logs and its fields. */
  hit(cls: string, message: string, fields: Readonly<Record<string, unknown>>): void {
    const key = `${cls}\u0000${shapeOf(message)}`;
    let line = this.kinds.get(key);
    if (!line) {
      const n = this.perClass.get(cls) ?? 0;
      if (n >= MAX_KINDS) {
        const other = `${cls}\u0000*`;
        line = this.kinds.get(other) ?? this.add(other, `dropped client messages (${cls}, other reasons)`);
        line.hit({ ...fields, class: cls, message });
        return;
      }
      this.perClass.set(cls, n + 1);
      line = this.add(key, message);
    }
    line.hit({ ...fields, class: cls });
  }

  /** Logs what is pending and stops the timers (on shutdown). */
  close(): void {
    for (const line of this.kinds.values()) line.close();
  }

  private add(key: string, message: string): RateLimitedLog {
    const line = new RateLimitedLog(this.log, 'warn', message, this.intervalMs, ...(this.schedule ? [this.schedule] : []));
    this.kinds.set(key, line);
    return line;
  }
}
