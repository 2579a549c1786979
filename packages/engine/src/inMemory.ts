/**
 * A RunEngine with every client in this process: the engine's commands are carried out in memory (sends go
 * to each client's endpoint as the same wire envelopes the sockets carry, client messages come back through
 * the protocol's schemas), and time is virtual — a timer fires only when nothing else can happen, so a
 * client that never answers is dropped at that stage exactly as a real deadline would drop it. Used by the
 * engine's tests and the utility experiment; the coordinator runs the same engine over Socket.IO.
 */
import { EVENTS, livenessSchema, secaggEnvelopeFromClient, unpack } from '@hushfl/protocol';
import type { RunCommand, RunEngine, RunEvent } from './runEngine.ts';

/** A client as the driver sees it: where the coordinator's messages go. */
export interface InMemoryEndpoint {
  deliver(event: string, payload: unknown): Promise<void> | void;
}

/** Makes a client's endpoint; `toCoordinator` carries its messages (secagg envelopes) back. */
export type InMemoryClientFactory = (clientId: string, toCoordinator: (event: string, payload: unknown) => void) => InMemoryEndpoint;

export class VirtualClock {
  private t = 0;
  now = (): number => this.t;
  advanceTo(t: number): void {
    if (t > this.t) this.t = t;
  }
}

export interface InMemoryRunOptions {
  /** A RunEngine, or anything that handles its events the same way (a test may move the run between engines). */
  readonly engine: Pick<RunEngine, 'handle'>;
  readonly clock: VirtualClock;
  readonly clients: readonly { readonly clientId: string; readonly miniClients: number; readonly make: InMemoryClientFactory }[];
  /** Evaluates a released model (default: no evaluation, accuracy null). */
  readonly evaluate?: (weights: Float32Array, round: number) => Promise<{ accuracy: number | null; loss: number | null }>;
  /** Sees every command (persist, release, notify, log…). */
  readonly observe?: (c: RunCommand) => void;
  /** Asked before every step: an event to handle first (an operator command, say), or null. */
  readonly interject?: () => RunEvent | null;
  /** Virtual time after which a run that has not ended is a test failure (default one virtual day). */
  readonly maxVirtualMs?: number;
}

export interface InMemoryRunResult {
  readonly state: 'completed' | 'stopped' | 'failed';
  readonly reason: string;
}

export async function runInMemory(o: InMemoryRunOptions): Promise<InMemoryRunResult> {
  const queue: RunEvent[] = [];
  const work: Promise<void>[] = [];
  const timers = new Map<string, number>();
  const endpoints = new Map<string, InMemoryEndpoint>();
  let end: InMemoryRunResult | null = null;
  let failure: unknown = null;

  for (const c of o.clients) {
    endpoints.set(
      c.clientId,
      c.make(c.clientId, (event, payload) => {
        if (event === EVENTS.liveness) {
          const parsed = livenessSchema.safeParse(payload);
          if (parsed.success) queue.push({ type: 'liveness', clientId: c.clientId, nonce: parsed.data.nonce });
          return;
        }
        if (event !== EVENTS.secagg) return;
        const env = secaggEnvelopeFromClient.parse(unpack(payload));
        const { json, bin } = payload as { json: string; bin: Uint8Array };
        queue.push({ type: 'secagg', clientId: c.clientId, roundId: env.roundId, message: env.message, bytes: json.length + bin.length });
      }),
    );
    queue.push({ type: 'client-ready', clientId: c.clientId, miniClients: c.miniClients });
  }
  queue.push({ type: 'start' });

  const apply = (c: RunCommand) => {
    o.observe?.(c);
    switch (c.kind) {
      case 'send': {
        const to = endpoints.get(c.to);
        if (to)
          work.push(
            Promise.resolve(to.deliver(c.event, c.payload)).catch((e: unknown) => {
              failure ??= e;
            }),
          );
        break;
      }
      case 'start-timer':
        timers.set(c.key, o.clock.now() + c.ms);
        break;
      case 'cancel-timer':
        timers.delete(c.key);
        break;
      case 'evaluate': {
        const evaluate = o.evaluate ?? (async () => ({ accuracy: null, loss: null }));
        work.push(
          evaluate(c.weights, c.round).then(
            (r) => void queue.push({ type: 'evaluated', round: c.round, accuracy: r.accuracy, loss: r.loss }),
            (e: Error) => void queue.push({ type: 'evaluated', round: c.round, accuracy: null, loss: null, error: e.message }),
          ),
        );
        break;
      }
      case 'end':
        end = { state: c.state, reason: c.reason };
        break;
      default:
        break;
    }
  };

  const limit = o.maxVirtualMs ?? 86_400_000;
  while (!end) {
    if (failure) throw failure;
    const extra = o.interject?.();
    if (extra) queue.unshift(extra);
    const event = queue.shift();
    if (event) {
      for (const c of await o.engine.handle(event)) apply(c);
      continue;
    }
    if (work.length) {
      await Promise.all(work.splice(0));
      continue;
    }
    let next: [string, number] | null = null;
    for (const t of timers) if (!next || t[1] < next[1]) next = t;
    if (!next) throw new Error('in-memory run stalled: no message, work or timer left');
    if (next[1] > limit) throw new Error(`in-memory run still going after ${limit} virtual ms (waiting on ${next[0]})`);
    timers.delete(next[0]);
    o.clock.advanceTo(next[1]);
    queue.push({ type: 'timer', key: next[0] });
  }
  await Promise.all(work.splice(0));
  return end;
}
