/**
 * One attempt of one federated round as a pure engine: events in (a SecAgg message arrived, a client
 * disconnected, a deadline passed), commands out (send, set a timer, a stage opened or closed, the round was
 * released or aborted). No sockets, clocks or storage: the coordinator, `hushfl simulate` and the utility
 * experiment all run rounds through this same code.
 *
 * Flow: the task goes to every selected party (global weights, training and DDG parameters, the public
 * rotation and graph seeds); parties train, DDG-encode and open SecAgg with AdvertiseKeys. Each SecAgg stage
 * has a deadline — late means dropped. The unmasked sum is decoded into the unweighted mean of the
 * contributions (or, under Poisson selection, the sum over the expected contributions: fedavg.ts), and
 * released only when at least n_min parties are in it. n_min counts parties, never the mini-clients a party
 * declares: each mini-client adds a noise share and an update, but a party that colludes adds no noise for
 * any of them. The close of the ConsistencyCheck, after which the coordinator can compute the sum, says so
 * (`unmasking`), so that the run charges the round's privacy before the first unmask request goes out.
 */
import {
  decodeClipCount,
  decodeDdg,
  FEDERATED_METRICS,
  federatedTotals,
  modelUpdateClip,
  nextPowerOfTwo,
  type DdgParams,
  type FederatedSums,
} from '@hushfl/ddp';
import {
  type MaskApplier,
  type Misbehaviour,
  type SecAggError,
  SecAggServer,
  chooseSecAggParams,
  checkSecAggParamsMeet,
  graphCommitment,
  type SecAggParams,
  type SecAggClientMessage,
  type SecAggConfig,
  type SecAggServerMessage,
  type SecAggServerSnapshot,
  type SecAggStage,
} from '@hushfl/secagg';
import { encodeModelWeights, f32FromBytes, vectorBytes, type ModelEncoding, type ModelSpec, type TaskMessage } from '@hushfl/protocol';
import type { FederatedEvaluation } from './federatedEvaluation.ts';

export interface Party {
  readonly clientId: string;
  /** Mini-clients behind this party: its input is the sum of that many encodings. */
  readonly contributions: number;
}

export interface RoundSetup {
  readonly runId: string;
  readonly round: number;
  readonly attempt: number;
  readonly parties: readonly Party[];
  readonly modelSpec: ModelSpec;
  /** The registry task the model is for (the task message's `task`). */
  readonly task: string;
  readonly weights: Float32Array;
  /** How the weights travel (the run's task.modelEncoding; absent: float32). */
  readonly modelEncoding?: ModelEncoding;
  readonly training: TaskMessage['training'];
  readonly dpsgd: TaskMessage['dpsgd'];
  /** The DDG parameters; `ddg.dim` is the model's dimension plus FEDERATED_METRICS with `evaluation`. */
  readonly ddg: DdgParams;
  /**
   * Federated evaluation (issue 14 §5): parties append their bounded metric sums to their updates, and the
   * released sum's last FEDERATED_METRICS coordinates are their totals. Absent or null: none.
   */
  readonly evaluation?: FederatedEvaluation | null;
  /** Adaptive clipping: the round's clip C_t and the count's noise (the task's `adaptiveClip`). Absent or null: fixed. */
  readonly adaptiveClip?: TaskMessage['adaptiveClip'];
  readonly secagg: {
    readonly neighbours?: number;
    readonly threshold?: number;
    readonly dropoutRate: number;
    readonly corruptRate: number;
    /** An absolute bound on colluders instead of the rate corruptRate (small rounds). */
    readonly maxColluders?: number;
  };
  /** Milliseconds per stage; `advertise-keys` includes local training. */
  readonly deadlinesMs: Readonly<Record<SecAggStage, number>>;
  /**
   * n_min: fewest parties (connections with their own identity and keys, never the mini-clients one
   * declares) whose inputs a released round's sum may hold; SecAgg itself needs three.
   */
  readonly minParties: number;
  /**
   * What the released sum is divided by: absent, the contributions in it; under Poisson selection the
   * expected contributions q·N, so that the model does not tell how many took part (fedavg.ts).
   */
  readonly meanDivisor?: number;
  /** Fresh per attempt from the shell's CSPRNG: the public rotation seed and r_S, the coordinator's secret part of the graph seed (only its commitment goes out before AdvertiseKeys closes). */
  readonly rotationSeed: Uint8Array;
  readonly graphValue: Uint8Array;
}

export type EngineCommand =
  | { readonly kind: 'send'; readonly to: string; readonly event: 'task' | 'secagg'; readonly payload: unknown }
  | { readonly kind: 'timer'; readonly key: string; readonly ms: number }
  | { readonly kind: 'cancel-timer'; readonly key: string }
  | {
      readonly kind: 'stage';
      readonly stage: SecAggStage;
      readonly phase: 'open' | 'closed';
      readonly expected: number;
      readonly dropped: readonly string[];
      /**
       * On the close whose commands carry the unmask requests (the ConsistencyCheck's): the parties, and their
       * contributions, whose inputs the sum will hold. From the first request on the coordinator may hold t
       * shares of every secret the sum needs, so the round's privacy is spent from here, released or not.
       */
      readonly unmasking?: { readonly parties: number; readonly contributions: number };
      /** On the close of MaskedInputCollection: who reported whose share box unopenable (the coordinator's record). */
      readonly unopenedShareBoxes?: Readonly<Record<string, readonly string[]>>;
    }
  | { readonly kind: 'refused'; readonly clientId: string; readonly code: string; readonly reason: string }
  | ({
      readonly kind: 'released';
      /** The decoded sum of the contributions' clipped updates over `meanDivisor` (model dimension). */
      readonly mean: Float64Array;
      /**
       * With federated evaluation: the metric totals over the contributions in the sum (not divided), decoded
       * from its last coordinates with the same noise as the mean; null without.
       */
      readonly federated: FederatedSums | null;
      /** Adaptive clipping: the signed noisy sum S = Σ(2b − 1) + noise of the clipped count (null without). */
      readonly clipCount: number | null;
      readonly contributions: number;
      /** Parties whose inputs are in the sum (the accountant's n). */
      readonly parties: number;
      readonly included: readonly string[];
      readonly droppedAt: Readonly<Record<string, SecAggStage>>;
    } & RoundConduct)
  | ({
      readonly kind: 'aborted';
      readonly reason: string;
      readonly code: string;
      readonly clientId?: string;
      readonly droppedAt: Readonly<Record<string, SecAggStage>>;
    } & RoundConduct);

/** How the parties behaved in an attempt: what the run engine's exclusion and liveness rules act on. */
export interface RoundConduct {
  /**
   * Parties accused by the SecAgg server — wrong shares off a verified decoding, or share boxes reported
   * unopenable by enough holders — with the parties the accusation rests on (`evidence`; see Misbehaviour).
   */
  readonly misbehaving: readonly { readonly clientId: string; readonly reason: string; readonly evidence: readonly string[] }[];
  /**
   * The most parties that may collude with the coordinator under this attempt's SecAgg parameters: C of the
   * colluders guarantee, ⌈γ·n⌉ of the rate guarantee. An accusation with more sources has an honest one.
   */
  readonly collusionBound: number;
  /** Parties that did not answer a stage they had to — silent at its deadline, or gone (disconnected). */
  readonly unanswered: readonly string[];
}

type SendCommand = Extract<EngineCommand, { kind: 'send' }>;

interface SentSlot {
  task?: SendCommand;
  secagg?: SendCommand;
  taskReplayed?: boolean;
  secaggReplayed?: boolean;
}

/**
 * One attempt's whole state as plain data (JSON values and Uint8Array only): the setup, the SecAgg server and
 * what was last sent to each party. `RoundEngine.restore` continues the round from it in another process.
 */
export interface RoundEngineSnapshot {
  readonly version: 1;
  readonly setup: Omit<RoundSetup, 'weights'> & { readonly weights: Uint8Array };
  readonly server: SecAggServerSnapshot;
  readonly gone: readonly number[];
  readonly lastSent: readonly ({ readonly clientId: string } & Readonly<SentSlot>)[];
  readonly finished: boolean;
  /** Absent in snapshots from before it was kept. */
  readonly unanswered?: readonly number[];
}

/** The SecAgg input's length: the padded DDG dimension d′, plus the clipped count with adaptive clipping. */
export function secaggDim(setup: Pick<RoundSetup, 'ddg' | 'adaptiveClip'>): number {
  return nextPowerOfTwo(setup.ddg.dim) + (setup.adaptiveClip ? 1 : 0);
}

export function roundIdOf(runId: string, round: number, attempt: number): string {
  return `${runId}/r${round}/a${attempt}`;
}

export class RoundEngine {
  private readonly byClient = new Map<string, { secaggId: number; contributions: number }>();
  private readonly bySecAggId = new Map<number, string>();
  private readonly gone = new Set<number>();
  /**
   * The task and the latest SecAgg message sent to each party, to repeat after a reconnect — each at most once
   * (`…Replayed`): a client that reconnects in a loop gets no more than one copy of the model per attempt.
   */
  private readonly lastSent = new Map<string, SentSlot>();
  /** Parties that did not answer a stage they had to: silent at its deadline, or gone (RoundConduct.unanswered). */
  private readonly unanswered = new Set<number>();
  private finished = false;

  /** RoundConduct.collusionBound: C of the colluders guarantee, ⌈γ·n⌉ of the rate guarantee, of this round's parameters. */
  private readonly collusionBound: number;

  private constructor(
    readonly setup: RoundSetup,
    readonly roundId: string,
    private readonly server: SecAggServer,
    params: SecAggParams,
  ) {
    const g = params.guarantee;
    this.collusionBound = g.kind === 'colluders' ? g.maxColluders : Math.ceil(g.corruptRate * params.n);
    setup.parties.forEach((p, i) => {
      this.byClient.set(p.clientId, { secaggId: i + 1, contributions: p.contributions });
      this.bySecAggId.set(i + 1, p.clientId);
    });
  }

  /** The SecAgg parameters for `n` parties: from the config, else chosen for the tolerated dropout rate. */
  /**
   * The SecAgg parameters for `n` parties with their guarantee and abort probability: the config's override,
   * refused when weaker than the minimum for this n, else chosen (Bell et al. 2020; params.ts).
   */
  static secaggParams(n: number, s: RoundSetup['secagg']): SecAggParams {
    const requirement = { dropoutRate: s.dropoutRate, corruptRate: s.corruptRate, maxColluders: s.maxColluders };
    if (s.neighbours !== undefined && s.threshold !== undefined) return checkSecAggParamsMeet(n, s.neighbours, s.threshold, requirement);
    return chooseSecAggParams(n, requirement);
  }

  /** Builds the engine and the commands that open the round (a task per party, the first deadline). */
  static async start(setup: RoundSetup, masks?: MaskApplier): Promise<{ engine: RoundEngine; commands: EngineCommand[] }> {
    const n = setup.parties.length;
    const roundId = roundIdOf(setup.runId, setup.round, setup.attempt);
    const extra = setup.evaluation ? FEDERATED_METRICS : 0;
    if (setup.ddg.dim !== setup.weights.length + extra) {
      throw new Error(
        `the DDG dimension ${setup.ddg.dim} does not fit the model's ${setup.weights.length} weights${extra ? ` plus ${extra} federated evaluation coordinates` : ''}`,
      );
    }
    const params = RoundEngine.secaggParams(n, setup.secagg);
    const { neighbours, threshold } = params;
    const config: SecAggConfig = {
      roundId,
      clients: setup.parties.map((_, i) => i + 1),
      bits: setup.ddg.bits,
      dim: secaggDim(setup),
      neighbours,
      threshold,
      graphCommitment: graphCommitment(roundId, setup.graphValue),
    };
    const server = await SecAggServer.create(config, setup.graphValue, masks ? { masks } : {});
    const engine = new RoundEngine(setup, roundId, server, params);
    const model = { spec: setup.modelSpec, ...encodeModelWeights(setup.weights, setup.modelEncoding ?? 'float32') };
    const commands: EngineCommand[] = setup.parties.map((p, i) => ({
      kind: 'send',
      to: p.clientId,
      event: 'task',
      payload: {
        runId: setup.runId,
        round: setup.round,
        attempt: setup.attempt,
        roundId,
        task: setup.task,
        model,
        training: setup.training,
        dpsgd: setup.dpsgd,
        ddg: setup.ddg,
        ...(setup.evaluation ? { evaluation: setup.evaluation } : {}),
        ...(setup.adaptiveClip ? { adaptiveClip: setup.adaptiveClip } : {}),
        rotationSeed: setup.rotationSeed,
        secagg: {
          id: i + 1,
          clients: [...config.clients],
          neighbours,
          threshold,
          graphCommitment: config.graphCommitment,
          dropoutRate: setup.secagg.dropoutRate,
          corruptRate: setup.secagg.corruptRate,
          ...(setup.secagg.maxColluders !== undefined ? { maxColluders: setup.secagg.maxColluders } : {}),
        },
        contributions: p.contributions,
        trainingDeadlineMs: setup.deadlinesMs['advertise-keys'],
      } satisfies TaskMessage,
    }));
    commands.push(...engine.open('advertise-keys'));
    engine.remember(commands);
    return { engine, commands };
  }

  snapshot(): RoundEngineSnapshot {
    return {
      version: 1,
      setup: { ...this.setup, weights: vectorBytes(this.setup.weights) },
      server: this.server.snapshot(),
      gone: [...this.gone],
      lastSent: [...this.lastSent].map(([clientId, slot]) => ({ clientId, ...slot })),
      finished: this.finished,
      unanswered: [...this.unanswered],
    };
  }

  static async restore(s: RoundEngineSnapshot, masks?: MaskApplier): Promise<RoundEngine> {
    if (s?.version !== 1) throw new Error('unknown round snapshot version');
    const setup: RoundSetup = { ...s.setup, weights: f32FromBytes(s.setup.weights) };
    const params = RoundEngine.secaggParams(setup.parties.length, setup.secagg);
    const engine = new RoundEngine(
      setup,
      roundIdOf(setup.runId, setup.round, setup.attempt),
      await SecAggServer.restore(s.server, masks ? { masks } : {}),
      params,
    );
    for (const id of s.gone) engine.gone.add(id);
    for (const { clientId, ...slot } of s.lastSent) engine.lastSent.set(clientId, { ...slot });
    for (const id of s.unanswered ?? []) engine.unanswered.add(id);
    engine.finished = s.finished;
    return engine;
  }

  get done(): boolean {
    return this.finished;
  }

  /** SecAgg id of a party in this round (undefined for a client not selected). */
  secaggIdOf(clientId: string): number | undefined {
    return this.byClient.get(clientId)?.secaggId;
  }

  get stage(): SecAggStage | 'done' | 'aborted' {
    return this.server.state;
  }

  private timerKey(stage: SecAggStage): string {
    return `${this.roundId}#${stage}`;
  }

  private open(stage: SecAggStage): EngineCommand[] {
    return [
      { kind: 'stage', stage, phase: 'open', expected: this.server.expected().length, dropped: [] },
      { kind: 'timer', key: this.timerKey(stage), ms: this.setup.deadlinesMs[stage] },
    ];
  }

  /** A SecAgg message from a connected client. */
  async onSecAgg(clientId: string, message: SecAggClientMessage): Promise<EngineCommand[]> {
    const refuse = (code: string, reason: string): EngineCommand[] => [{ kind: 'refused', clientId, code, reason }];
    if (this.finished) return refuse('aborted', `round ${this.roundId} is over`);
    const party = this.byClient.get(clientId);
    if (!party) return refuse('unknown-client', `client ${clientId} is not part of round ${this.roundId}`);
    if (message.from !== party.secaggId) {
      return refuse('bad-message', `client ${clientId} sent a message as SecAgg id ${String(message.from)}, its id is ${party.secaggId}`);
    }
    const error = await this.server.receive(message);
    if (error) return refuse(error.code, error.message);
    this.gone.delete(party.secaggId);
    return this.maybeAdvance();
  }

  private remember(commands: readonly EngineCommand[]): void {
    for (const c of commands) {
      if (c.kind !== 'send') continue;
      const slot = this.lastSent.get(c.to) ?? {};
      if (c.event === 'task') slot.task = c;
      else {
        slot.secagg = c;
        slot.secaggReplayed = false;
      }
      this.lastSent.set(c.to, slot);
    }
  }

  /**
   * A party reconnected (a reloaded tab): its task and the latest SecAgg message are repeated, each at most
   * once. A client that kept its round state answers (or repeats its answer) and counts as present again from
   * that answer on; one that lost it ignores what it cannot use, and the stage does not wait for it.
   */
  onReconnect(clientId: string): EngineCommand[] {
    const party = this.byClient.get(clientId);
    const slot = this.lastSent.get(clientId);
    if (!party || this.finished || !slot) return [];
    const out: SendCommand[] = [];
    if (slot.task && !slot.taskReplayed) out.push(slot.task);
    if (slot.secagg && !slot.secaggReplayed) out.push(slot.secagg);
    slot.taskReplayed ||= slot.task !== undefined;
    slot.secaggReplayed ||= slot.secagg !== undefined;
    return out;
  }

  /** A client's connection closed: it will not answer; close the stage early if nobody else is pending. */
  async onDisconnect(clientId: string): Promise<EngineCommand[]> {
    const party = this.byClient.get(clientId);
    if (!party || this.finished) return [];
    this.gone.add(party.secaggId);
    return this.maybeAdvance();
  }

  /** A deadline fired (stale keys are ignored). */
  async onDeadline(key: string): Promise<EngineCommand[]> {
    if (this.finished) return [];
    const stage = this.server.state;
    if (stage === 'done' || stage === 'aborted' || key !== this.timerKey(stage)) return [];
    return this.advance();
  }

  /** Aborts from outside (operator stop, shutdown, the watchdog, a store error: `code` says which). */
  abort(reason: string, code = 'aborted'): EngineCommand[] {
    if (this.finished) return [];
    this.finished = true;
    const stage = this.server.state;
    const cmds: EngineCommand[] = stage !== 'done' && stage !== 'aborted' ? [{ kind: 'cancel-timer', key: this.timerKey(stage) }] : [];
    cmds.push({ kind: 'aborted', reason, code, droppedAt: this.droppedAt(), ...this.conduct() });
    return cmds;
  }

  private async maybeAdvance(): Promise<EngineCommand[]> {
    const pending = this.server.pending();
    if (pending.every((id) => this.gone.has(id))) return this.advance();
    return [];
  }

  private droppedAt(): Record<string, SecAggStage> {
    const out: Record<string, SecAggStage> = {};
    for (const [id, stage] of this.server.dropouts()) out[this.bySecAggId.get(id)!] = stage;
    return out;
  }

  /** The conduct of the attempt so far, with `misbehaving` as the server proved it (SecAgg ids → clients). */
  private conduct(misbehaving: readonly Misbehaviour[] = []): RoundConduct {
    const client = (id: number) => this.bySecAggId.get(id) ?? String(id);
    return {
      misbehaving: misbehaving.map((m) => ({ clientId: client(m.id), reason: m.reason, evidence: m.evidence.map(client) })),
      collusionBound: this.collusionBound,
      unanswered: [...this.unanswered].sort((a, b) => a - b).map((id) => this.bySecAggId.get(id)!),
    };
  }

  private async advance(): Promise<EngineCommand[]> {
    const commands: EngineCommand[] = [];
    for (;;) {
      const stage = this.server.state as SecAggStage;
      // Who is still expected now did not answer: silent at the deadline, or gone (a disconnect is no excuse,
      // or Sybils that leave mid-round would cost counted attempts).
      for (const id of this.server.pending()) this.unanswered.add(id);
      const step = await this.server.advance();
      commands.push({ kind: 'cancel-timer', key: this.timerKey(stage) });
      const unmasking = this.unmaskingOf(step.outgoing);
      const reports = stage === 'masked-input' ? this.boxReports() : undefined;
      commands.push({
        kind: 'stage',
        stage,
        phase: 'closed',
        expected: 0,
        dropped: step.dropped.map((id) => this.bySecAggId.get(id)!),
        ...(unmasking ? { unmasking } : {}),
        ...(reports ? { unopenedShareBoxes: reports } : {}),
      });
      if (step.error) {
        this.finished = true;
        commands.push(this.abortCommand(step.error, step.misbehaving));
        return commands;
      }
      if (step.result) {
        this.finished = true;
        commands.push(this.release(step.result.sum, step.result.included, step.misbehaving));
        return commands;
      }
      // The masked inputs are in: if they come from fewer than n_min parties, stop before anything is
      // unmasked, so that not even an honest-but-curious coordinator ever holds an under-noised sum.
      const survivors = step.outgoing.find((m) => m.type === 'survivors');
      if (survivors && survivors.type === 'survivors' && survivors.survivors.length < this.setup.minParties) {
        this.finished = true;
        commands.push(this.tooFew(survivors.survivors.length));
        return commands;
      }
      const sends: EngineCommand[] = step.outgoing.map((m) => ({
        kind: 'send',
        to: this.bySecAggId.get(m.to)!,
        event: 'secagg',
        payload: { roundId: this.roundId, message: m },
      }));
      this.remember(sends);
      commands.push(...sends);
      const next = this.server.state as SecAggStage;
      commands.push(...this.open(next));
      // Everyone expected next has already disconnected: close this stage too, without waiting.
      if (!this.server.pending().every((id) => this.gone.has(id))) return commands;
    }
  }

  /** The server's share-box reports by client id, or undefined when there are none. */
  private boxReports(): Record<string, string[]> | undefined {
    const reports = this.server.shareBoxReports();
    if (reports.size === 0) return undefined;
    const out: Record<string, string[]> = {};
    for (const [from, unopened] of reports) out[this.bySecAggId.get(from)!] = unopened.map((id) => this.bySecAggId.get(id)!);
    return out;
  }

  private abortCommand(error: SecAggError, misbehaving: readonly Misbehaviour[] = []): EngineCommand {
    return {
      kind: 'aborted',
      reason: error.message,
      code: error.code,
      ...(error.clientId !== undefined ? { clientId: this.bySecAggId.get(error.clientId) ?? String(error.clientId) } : {}),
      droppedAt: this.droppedAt(),
      ...this.conduct(misbehaving),
    };
  }

  private tooFew(parties: number): EngineCommand {
    return {
      kind: 'aborted',
      reason: `only ${parties} parties reached the sum, fewer than n_min = ${this.setup.minParties} parties: the round is not unmasked`,
      code: 'too-few-parties',
      droppedAt: this.droppedAt(),
      ...this.conduct(),
    };
  }

  /**
   * The parties (and their contributions) whose inputs the sum will hold, when `outgoing` carries the unmask
   * requests: exactly those whose self-mask seed is asked for (every input in the sum needs it revealed).
   */
  private unmaskingOf(outgoing: readonly SecAggServerMessage[]): { parties: number; contributions: number } | undefined {
    const ids = new Set<number>();
    let requests = 0;
    for (const m of outgoing) {
      if (m.type !== 'unmask-request') continue;
      requests++;
      for (const id of m.revealSelfMaskOf) ids.add(id);
    }
    if (!requests) return undefined;
    let contributions = 0;
    for (const id of ids) contributions += this.byClient.get(this.bySecAggId.get(id)!)!.contributions;
    return { parties: ids.size, contributions };
  }

  private release(sum: Uint32Array, included: readonly number[], misbehaving: readonly Misbehaviour[] = []): EngineCommand {
    const clients = included.map((id) => this.bySecAggId.get(id)!);
    const contributions = clients.reduce((s, c) => s + this.byClient.get(c)!.contributions, 0);
    // Unreachable after the check at the close of MaskedInputCollection (the sum is over exactly those
    // survivors); kept so that no path can release an under-noised sum.
    if (clients.length < this.setup.minParties) return this.tooFew(clients.length);
    // The decoded sum (d + k values with federated evaluation), then the scaling decodeDdg applies — by the
    // contributions, or under Poisson selection by the expected contributions — on the model's d coordinates
    // only. The metric coordinates stay sums: their totals over the contributions, in metric units.
    const padded = nextPowerOfTwo(this.setup.ddg.dim);
    const decoded = decodeDdg(sum.subarray(0, padded), this.setup.ddg, this.setup.rotationSeed, 1);
    const d = this.setup.weights.length;
    const e = this.setup.evaluation;
    // Adaptive clipping: the parties scaled their updates clipped to C_t onto the plan's update clip; undo it.
    const a = this.setup.adaptiveClip;
    const inv = (a ? a.clip / modelUpdateClip(this.setup.ddg.clip, e) : 1) / (this.setup.meanDivisor ?? contributions);
    const mean = new Float64Array(d);
    for (let i = 0; i < d; i++) mean[i] = decoded[i]! * inv;
    const federated = e ? federatedTotals(decoded, d, this.setup.ddg.clip, e) : null;
    return {
      kind: 'released',
      mean,
      federated,
      clipCount: a ? decodeClipCount(sum[padded]!, this.setup.ddg.bits) : null,
      contributions,
      parties: clients.length,
      included: clients,
      droppedAt: this.droppedAt(),
      ...this.conduct(misbehaving),
    };
  }
}
