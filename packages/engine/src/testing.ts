/**
 * Test support (`@hushfl/engine/testing`, for tests only): clients for the in-memory driver that need no TensorFlow.js.
 * Each has a fixed update per round; on a task it DDG-encodes it once per contribution (the real encoder),
 * sums the encodings in Z_2^B and runs the real SecAgg client. It records what it encoded, so a test can
 * compute the exact modular sum the coordinator should unmask.
 */
import {
  addClipCountInto,
  appendFederatedMetrics,
  chachaRandomWords,
  clipToAdaptive,
  encodeDdg,
  type FederatedSums,
  nextPowerOfTwo,
  type RandomWords,
  modelUpdateClip,
} from '@hushfl/ddp';
import {
  EVENTS,
  pack,
  parseRunConfig,
  type RunConfigInput,
  secaggClientToWire,
  secaggEnvelopeFromServer,
  taskMessageSchema,
  type TaskMessage,
  unpack,
} from '@hushfl/protocol';
import { addInPlace, type DropPoint, lastMessageBefore, SecAggClient, type SecAggClientMessage } from '@hushfl/secagg';
import type { InMemoryClientFactory } from './inMemory.ts';
import type { RoundSetup } from './roundEngine.ts';

/** A deterministic word stream for tests (ChaCha20 keyed by `tag`): the engine's selection and seeds. */
export function seededWords(tag: number): RandomWords {
  const key = new Uint8Array(32);
  key[0] = tag;
  return chachaRandomWords(key);
}

export interface FakeClientOptions {
  /** The update of contribution j in round r (model dimension). */
  readonly update: (round: number, contribution: number) => Float32Array;
  /**
   * With federated evaluation (the task's `evaluation`): contribution j's metric sums in round r, appended to
   * its update as the real runtime does (default: all zero).
   */
  readonly metrics?: (round: number, contribution: number) => FederatedSums;
  /** Where this client vanishes in a round attempt (null: it stays). */
  readonly vanish?: (round: number, attempt: number) => DropPoint | null;
  /** Whether it echoes liveness probes, as the real client runtime does (default true). */
  readonly answersLiveness?: boolean;
  /** A misbehaving client: rewrites each SecAgg message it sends in round `round`. */
  readonly tamper?: (round: number, message: SecAggClientMessage) => SecAggClientMessage;
}

/** A tamper that replaces every share box of the client's ShareKeys message by random bytes of the right size. */
export function poisonShareBoxes(_round: number, m: SecAggClientMessage): SecAggClientMessage {
  if (m.type !== 'share-keys') return m;
  return { ...m, shares: m.shares.map((s) => ({ ...s, ciphertext: crypto.getRandomValues(new Uint8Array(s.ciphertext.length)) })) };
}

/** A tamper that flips the lowest bit of every self-mask share the client reveals. */
export function flipAllUnmaskShares(_round: number, m: SecAggClientMessage): SecAggClientMessage {
  if (m.type !== 'unmask-shares') return m;
  return {
    ...m,
    selfMaskShares: m.selfMaskShares.map((s) => {
      const share = s.share.slice();
      share[share.length - 1]! ^= 1;
      return { ...s, share };
    }),
  };
}

/** A tamper that flips the lowest bit of the first unmask share the client reveals. */
export function flipFirstUnmaskShare(_round: number, m: SecAggClientMessage): SecAggClientMessage {
  if (m.type !== 'unmask-shares' || m.selfMaskShares.length === 0) return m;
  const [first, ...rest] = m.selfMaskShares;
  const share = first!.share.slice();
  share[share.length - 1]! ^= 1;
  return { ...m, selfMaskShares: [{ ...first!, share }, ...rest] };
}

export interface FakeClientLog {
  /** roundId → the sum of this client's encodings it masked in. */
  readonly inputs: Map<string, Uint32Array>;
}

const NO_METRICS: FederatedSums = { heldOut: { lossSum: 0, correct: 0, examples: 0 }, train: { lossSum: 0, correct: 0, examples: 0 } };

/** `make`, with every task message it receives parsed and appended to `tasks` (what the coordinator sent it). */
export function recordingTasks(make: InMemoryClientFactory, tasks: TaskMessage[]): InMemoryClientFactory {
  return (id, to) => {
    const endpoint = make(id, to);
    return {
      deliver(event: string, payload: unknown) {
        if (event === EVENTS.task) tasks.push(taskMessageSchema.parse(unpack(payload)));
        return endpoint.deliver(event, payload);
      },
    };
  };
}

export function fakeClient(o: FakeClientOptions, log: FakeClientLog = { inputs: new Map() }): InMemoryClientFactory {
  return (_clientId, toCoordinator) => {
    const rounds = new Map<string, { client: SecAggClient; round: number; stopAfter: string | null; stopped: boolean }>();
    const send = (roundId: string, message: SecAggClientMessage) => {
      const r = rounds.get(roundId)!;
      if (r.stopped) return;
      const out = o.tamper ? o.tamper(r.round, message) : message;
      toCoordinator(EVENTS.secagg, pack({ roundId, message: secaggClientToWire(out) }));
      if (r.stopAfter === message.type) r.stopped = true;
    };
    return {
      async deliver(event, payload) {
        if (event === EVENTS.task) {
          const task = taskMessageSchema.parse(unpack(payload));
          const point = o.vanish?.(task.round, task.attempt) ?? null;
          if (point === 'before-advertise') return;
          const padded = nextPowerOfTwo(task.ddg.dim);
          const adaptive = task.adaptiveClip ?? null;
          // [d′ DDG coordinates ‖ the clipped count with adaptive clipping], as the real runtime sends.
          const sum = new Uint32Array(padded + (adaptive ? 1 : 0));
          for (let j = 0; j < task.contributions; j++) {
            let update: Float32Array | Float64Array = o.update(task.round, j);
            let below = true;
            if (adaptive) {
              const planClip = modelUpdateClip(task.ddg.clip, task.evaluation);
              ({ scaled: update, below } = clipToAdaptive(update, adaptive.clip, planClip));
            }
            const input = task.evaluation
              ? appendFederatedMetrics(update, o.metrics?.(task.round, j) ?? NO_METRICS, task.ddg.clip, task.evaluation).out
              : update;
            const { encoded } = encodeDdg(input, task.ddg, task.rotationSeed);
            addInPlace(sum.subarray(0, padded), encoded, task.ddg.bits);
            if (adaptive) addClipCountInto(sum, below, { countStddev: adaptive.countStddev, countScale: adaptive.countScale, bits: task.ddg.bits });
          }
          log.inputs.set(task.roundId, sum.slice());
          const client = await SecAggClient.create(
            {
              roundId: task.roundId,
              clients: task.secagg.clients,
              bits: task.ddg.bits,
              dim: sum.length,
              neighbours: task.secagg.neighbours,
              threshold: task.secagg.threshold,
              graphCommitment: task.secagg.graphCommitment,
            },
            task.secagg.id,
            sum,
            { requirement: task.secagg },
          );
          rounds.set(task.roundId, { client, round: task.round, stopAfter: point ? lastMessageBefore(point) : null, stopped: false });
          send(task.roundId, await client.advertise());
        } else if (event === EVENTS.liveness) {
          if (o.answersLiveness !== false) toCoordinator(EVENTS.liveness, payload);
        } else if (event === EVENTS.secagg) {
          const env = secaggEnvelopeFromServer.parse(unpack(payload));
          const r = rounds.get(env.roundId);
          if (!r || r.stopped) return;
          const step = await r.client.handle(env.message);
          if (step.outgoing) send(env.roundId, step.outgoing);
        }
      },
    };
  };
}

/** A small run config for engine tests: quantization only (no noise) unless `ddg` says otherwise. */
export function engineTestConfig(overrides: Partial<RunConfigInput> & Pick<RunConfigInput, 'rounds' | 'minClients'>) {
  return parseRunConfig({
    task: { model: { kind: 'mlp', hidden: [] } },
    ddg: { noise: false, bits: 24 },
    deadlines: { training: 60, shareKeys: 10, maskedInput: 10, consistencyCheck: 10, unmasking: 10 },
    // Test rounds have a few parties: an absolute bound, as γ = 0.1 at 2^-40 needs n >= 15 (issue 12).
    secagg: { maxColluders: 1 },
    ...overrides,
  });
}

/**
 * A RoundSetup for round-engine tests: `dim`-dimensional MLP weights, quantization only, one contribution per
 * party, SecAgg with an absolute collusion bound (a few parties: γ = 0.1 at 2^-40 needs n >= 15).
 */
export function roundSetupForTest(parties: readonly string[], dim: number, overrides: Partial<RoundSetup> = {}): RoundSetup {
  return {
    runId: 'run-test',
    round: 0,
    attempt: 1,
    parties: parties.map((clientId) => ({ clientId, contributions: 1 })),
    modelSpec: { kind: 'mlp', hidden: [] },
    task: 'mnist',
    weights: new Float32Array(dim),
    training: { epochs: 1, batchSize: 8, learningRate: 0.1 },
    dpsgd: null,
    ddg: { dim, clip: 1, gamma: 1e-4, beta: 0, bits: 24, localStddev: 0 },
    secagg: { dropoutRate: 0.1, corruptRate: 0.1, maxColluders: 1 },
    deadlinesMs: { 'advertise-keys': 1000, 'share-keys': 1000, 'masked-input': 1000, 'consistency-check': 1000, unmasking: 1000 },
    minParties: 2,
    rotationSeed: new Uint8Array(32).fill(1),
    graphValue: new Uint8Array(32).fill(2),
    ...overrides,
  };
}
