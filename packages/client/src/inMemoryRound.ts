/**
 * One federated round with the coordinator's RoundEngine and client runtimes in one process, messages passed
 * in memory (through the same wire envelopes and schemas) instead of sockets. Used by tests and by the
 * utility experiment, which must go through the real encode/mask/unmask/decode code but needs no network.
 */
import { type EngineCommand, type InMemoryClientFactory, RoundEngine, type RoundSetup } from '@hushfl/engine';
import {
  EVENTS,
  livenessSchema,
  pack,
  roundEndSchema,
  secaggClientToWire,
  secaggEnvelopeFromClient,
  secaggEnvelopeFromServer,
  taskMessageSchema,
  unpack,
} from '@hushfl/protocol';
import type { ClientRuntime, RuntimeHost } from './runtime.ts';

export type RoundOutcome = Extract<EngineCommand, { kind: 'released' | 'aborted' }>;

/** A runtime and the hooks the harness needs to drive it. */
export interface InMemoryClient {
  readonly clientId: string;
  readonly runtime: ClientRuntime;
  /** Set by the harness: where the runtime's host sends go. */
  connect(host: RuntimeHost): void;
}

/**
 * Runs one round to its end. Deadlines fire only when nothing else can happen (no message in flight), so
 * a client that never answers is dropped at that stage, exactly as a real deadline would.
 */
export async function runRoundInMemory(setup: RoundSetup, clients: ReadonlyMap<string, InMemoryClient>): Promise<RoundOutcome> {
  const { engine, commands } = await RoundEngine.start(setup);
  const inbox: (() => Promise<EngineCommand[]>)[] = [];
  const timers = new Map<string, number>();
  const state: { outcome: RoundOutcome | null } = { outcome: null };

  for (const [clientId, c] of clients) {
    c.connect({
      sendSecAgg(roundId, message) {
        const wire = unpack(pack({ roundId, message: secaggClientToWire(message) }));
        const parsed = secaggEnvelopeFromClient.parse(wire);
        inbox.push(() => engine.onSecAgg(clientId, parsed.message));
      },
      report() {},
    });
  }

  const pendingWork: Promise<void>[] = [];
  const apply = (cmds: readonly EngineCommand[]) => {
    for (const cmd of cmds) {
      if (cmd.kind === 'send') {
        const client = clients.get(cmd.to);
        if (!client) continue;
        pendingWork.push(deliverToRuntime(client.runtime, cmd.event, pack(cmd.payload)));
      } else if (cmd.kind === 'timer') timers.set(cmd.key, cmd.ms);
      else if (cmd.kind === 'cancel-timer') timers.delete(cmd.key);
      else if (cmd.kind === 'released' || cmd.kind === 'aborted') state.outcome = cmd;
    }
  };

  apply(commands);
  while (!state.outcome) {
    if (pendingWork.length) {
      await Promise.all(pendingWork.splice(0));
      continue;
    }
    if (inbox.length) {
      apply(await inbox.shift()!());
      continue;
    }
    const next = [...timers.keys()][0];
    if (next === undefined) throw new Error('in-memory round stalled: no message, work or deadline left');
    timers.delete(next);
    apply(await engine.onDeadline(next));
  }
  const done = state.outcome;
  const included = done.kind === 'released' ? new Set(done.included) : new Set<string>();
  for (const [clientId, c] of clients) {
    c.runtime.onRoundEnd(
      roundEndSchema.parse({
        roundId: engine.roundId,
        round: setup.round,
        status: done.kind === 'released' ? 'completed' : 'aborted',
        included: included.has(clientId),
      }),
    );
  }
  return done;
}

/** Wraps a runtime for runRoundInMemory: the runtime's host forwards to whatever the harness connects. */
export function inMemoryClient(
  clientId: string,
  make: (host: RuntimeHost) => ClientRuntime,
  onClippedUpdates?: RuntimeHost['onClippedUpdates'],
): InMemoryClient {
  let target: RuntimeHost | null = null;
  const runtime = make({
    sendSecAgg: (roundId, m) => target?.sendSecAgg(roundId, m),
    report: (r) => target?.report(r),
    ...(onClippedUpdates ? { onClippedUpdates } : {}),
  });
  return { clientId, runtime, connect: (h) => (target = h) };
}

/** A coordinator message as it arrives on the wire (task and secagg packed), checked by its schema and handed to the runtime. */
export async function deliverToRuntime(runtime: ClientRuntime, event: string, payload: unknown): Promise<void> {
  if (event === EVENTS.task) await runtime.onTask(taskMessageSchema.parse(unpack(payload)));
  else if (event === EVENTS.secagg) {
    const env = secaggEnvelopeFromServer.parse(unpack(payload));
    await runtime.onSecAgg(env.roundId, env.message);
  } else if (event === EVENTS.roundEnd) runtime.onRoundEnd(roundEndSchema.parse(payload));
}

/**
 * A client runtime as a client of the engine's in-memory driver (`runInMemory`, packages/engine): the
 * coordinator's envelopes are checked with the protocol's schemas and handed to the runtime, and its SecAgg
 * messages go back packed, exactly as over a socket. `make` builds the runtime on the client's first task and
 * `release` (if given) is called when a round ends, so a large population costs nothing until selected.
 */
export function runtimeClient(make: (host: RuntimeHost) => ClientRuntime, release?: (runtime: ClientRuntime) => void): InMemoryClientFactory {
  return (_clientId, toCoordinator) => {
    let runtime: ClientRuntime | null = null;
    const host: RuntimeHost = {
      sendSecAgg: (roundId, message) => toCoordinator(EVENTS.secagg, pack({ roundId, message: secaggClientToWire(message) })),
      report() {},
    };
    const handle = async (event: string, payload: unknown) => {
      // Echoed at once, as ClientSession does over a socket: the engine selects only parties that answer.
      if (event === EVENTS.liveness) return toCoordinator(EVENTS.liveness, livenessSchema.parse(payload));
      if (event === EVENTS.task) runtime ??= make(host);
      if (!runtime) return;
      await deliverToRuntime(runtime, event, payload);
      if (event === EVENTS.roundEnd && release) {
        release(runtime);
        runtime = null;
      }
    };
    // One client's messages are handled in the order they were sent, as over a socket: a round's end is
    // through (and its runtime released) before the next round's task arrives.
    let inOrder: Promise<void> = Promise.resolve();
    return {
      deliver(event, payload) {
        const next = inOrder.then(() => handle(event, payload));
        inOrder = next.catch(() => undefined); // a failed message fails its own delivery, not the next ones
        return next;
      },
    };
  };
}
