/**
 * The SecAgg+ server as a state machine without I/O or clocks (Bonawitz et al. 2017, Fig. 4, server side;
 * Bell et al. 2020 neighbour graph). The owner feeds every client message to `receive` (a bad one is
 * refused with a typed error and changes nothing) and calls `advance` when the stage's deadline passes or
 * nobody is pending; `advance` closes the stage — whoever has not answered has dropped — and returns the
 * messages that open the next one. After Unmasking it outputs the sum of exactly the clients whose masked
 * input it accepted (U3), or aborts with an error naming a client whose secret cannot be recovered.
 * It never outputs a wrong sum: reconstructed seeds are checked against commitments and advertised keys.
 * Each secret is decoded from all its shares with an error-correcting decoder (reedSolomon.ts), so up to
 * ⌊(m − t)/2⌋ wrong shares per secret are corrected and their senders reported (`ServerStep.misbehaving`).
 */
import { consistencyMessage, validateConfig } from './context.ts';
import { type Misbehaviour, SecAggError } from './errors.ts';
import { neighbourGraph, type NeighbourGraph } from './graph.ts';
import { equalBytes, graphCommitment, graphSeedOf } from './graphSeed.ts';
import { verifyIdentityProof } from './identity.ts';
import { EXPANSION_CONCURRENCY, inProcessMasks, type MaskApplier, type MaskTerm, pairwiseSeed, runLimited } from './masks.ts';
import type {
  AdvertiseKeysMsg,
  AdvertisedKeys,
  SecAggClientMessage,
  SecAggConfig,
  SecAggServerMessage,
  SecAggStage,
  ShareKeysMsg,
  UnmaskRequestMsg,
  UnmaskSharesMsg,
} from './messages.ts';
import { bigIntToBytes } from './field.ts';
import { decodeShares, sharesOffPolynomial } from './reedSolomon.ts';
import { decodeShare, type ShamirShare } from './shamir.ts';
import { SHARE_BOX_BYTES } from './shareBox.ts';
import { STAGE_MESSAGE } from './stages.ts';
import { isSmallOrderEd25519, isSmallOrderX25519 } from './smallOrder.ts';
import { defaultSuite, type CryptoSuite } from './suite.ts';
import { sha256 } from './symmetric.ts';
import { addInPlace, bytesAsWords, checkRingVector, wordsAsBytes } from './vector.ts';

export type SecAggServerState = SecAggStage | 'done' | 'aborted';

export interface SecAggResult {
  /** Σ_{u ∈ included} x_u mod 2^B. */
  readonly sum: Uint32Array;
  /** U3: the clients whose masked input was accepted, ascending. */
  readonly included: readonly number[];
}

export interface ServerStep {
  readonly outgoing: readonly SecAggServerMessage[];
  /** Clients that dropped at the stage just closed (no valid answer in time, or unable to continue). */
  readonly dropped: readonly number[];
  /** The state after the step. */
  readonly state: SecAggServerState;
  readonly result?: SecAggResult;
  /** Why the round aborted. */
  readonly error?: SecAggError;
  /**
   * Parties accused with evidence (absent when nobody was): at Unmasking, holders whose revealed shares are off
   * a verified decoding (reedSolomon.ts; a decoding that does not verify accuses nobody) — the share is wrong,
   * but its dealer may have sealed it wrong, so `evidence` lists the dealers; at the close of
   * MaskedInputCollection, a party whose reported share boxes leave a secret below t holders, with the
   * reporters. Present on a completed round (wrong shares were corrected) and on an aborted one.
   */
  readonly misbehaving?: readonly Misbehaviour[];
}

export type { Misbehaviour };

/**
 * The server's whole state as plain data (JSON values and Uint8Array only), so it can be stored and a round
 * continued by another process: `SecAggServer.restore(snapshot)` rebuilds the server exactly (the neighbour
 * graph is recomputed from the opened seed). Masked inputs travel as little-endian bytes. It holds r_S, which
 * is secret until AdvertiseKeys closes: keep snapshots on the coordinator.
 */
export interface SecAggServerSnapshot {
  /** 3 keeps the running sum of the masked inputs; 2 (older) kept each input. */
  readonly version: 2 | 3;
  readonly config: SecAggConfig;
  readonly graphValue: Uint8Array;
  readonly state: SecAggServerState;
  readonly expected: readonly number[];
  readonly keys: readonly AdvertiseKeysMsg[];
  readonly shareMsgs: readonly ShareKeysMsg[];
  /** Version 2: every accepted masked input. */
  readonly masked?: readonly { readonly from: number; readonly masked: Uint8Array }[];
  /** Version 3: who sent an accepted masked input, and their running sum mod 2^B (null before the first). */
  readonly maskedFrom?: readonly number[];
  readonly maskedSum?: Uint8Array | null;
  readonly signatures: readonly { readonly from: number; readonly signature: Uint8Array }[];
  readonly unmaskRequests: readonly UnmaskRequestMsg[];
  readonly unmaskShares: readonly UnmaskSharesMsg[];
  readonly u1: readonly number[];
  readonly u2: readonly number[];
  readonly u3: readonly number[];
  readonly droppedAt: readonly (readonly [number, SecAggStage])[];
  /** Who reported whose share box unopenable (MaskedInputMsg.unopenedShareBoxes); absent in older snapshots. */
  readonly boxReports?: readonly { readonly from: number; readonly unopened: readonly number[] }[];
}

/**
 * `authorityKey` turns on PKI mode (identity.ts): every AdvertiseKeys must carry a certificate from that
 * authority and the certified key's signature over its round keys, and no two advertisers may share a
 * subject. This only keeps a round from going ahead with parties the clients would refuse: the security
 * comes from the clients, which check their neighbours against their own pinned authority key.
 */
export interface SecAggServerOptions {
  readonly suite?: CryptoSuite;
  /** The authority's raw 32-byte Ed25519 public key (PKI mode). */
  readonly authorityKey?: Uint8Array;
  /** The clock certificates are checked against (default Date.now). */
  readonly now?: () => number;
  /** Where unmasking regenerates the masks (default in process; a coordinator's worker threads, say). */
  readonly masks?: MaskApplier;
}

export class SecAggServer {
  private stateValue: SecAggServerState = 'advertise-keys';
  /** Who must answer the current stage. */
  private expectedSet: Set<number>;
  private readonly keys = new Map<number, AdvertiseKeysMsg>();
  private readonly shareMsgs = new Map<number, ShareKeysMsg>();
  /**
   * The accepted masked inputs as their running sum Σ y_u mod 2^B and who sent them: O(d) memory, not O(n·d).
   * The unmasked sum is over exactly these senders (U3, Bonawitz et al. Fig. 4 round 4), so nothing else of
   * an input is ever needed — dropout recovery removes masks, never inputs.
   */
  private readonly maskedFrom = new Set<number>();
  private maskedSum: Uint32Array | null = null;
  private readonly signatures = new Map<number, Uint8Array>();
  private readonly unmaskRequests = new Map<number, UnmaskRequestMsg>();
  private readonly unmaskShares = new Map<number, UnmaskSharesMsg>();
  /** U1 … U3 once known. */
  private u1 = new Set<number>();
  private u2 = new Set<number>();
  private u3 = new Set<number>();
  private readonly droppedAt = new Map<number, SecAggStage>();
  /** Reporter → the neighbours whose share box to it did not open: it holds no shares of theirs. */
  private readonly boxReports = new Map<number, readonly number[]>();
  /** The graph over U1 and its seed, known once AdvertiseKeys closes (graphSeed.ts). */
  private graph: NeighbourGraph = new Map();
  private graphSeed?: Uint8Array;

  private constructor(
    readonly config: SecAggConfig,
    ids: readonly number[],
    /** r_S, whose commitment is config.graphCommitment. */
    private readonly graphValue: Uint8Array,
    private readonly suite: CryptoSuite,
    private readonly pki?: { readonly authorityKey: Uint8Array; readonly now: () => number },
    private readonly masks: MaskApplier = inProcessMasks,
  ) {
    this.expectedSet = new Set(ids);
  }

  /** `graphValue` is r_S: 32 secret random bytes whose commitment the config carries. */
  static async create(config: SecAggConfig, graphValue: Uint8Array, options: SecAggServerOptions = {}): Promise<SecAggServer> {
    const ids = validateConfig(config);
    if (!equalBytes(graphCommitment(config.roundId, graphValue), config.graphCommitment))
      throw new SecAggError('bad-parameters', 'the graph value does not match the config graph commitment');
    const { authorityKey } = options;
    if (authorityKey !== undefined && (!(authorityKey instanceof Uint8Array) || isSmallOrderEd25519(authorityKey)))
      throw new SecAggError('bad-parameters', 'the authority key must be a 32-byte canonical Ed25519 key not of small order');
    const pki = authorityKey ? { authorityKey: Uint8Array.from(authorityKey), now: options.now ?? Date.now } : undefined;
    return new SecAggServer(config, ids, Uint8Array.from(graphValue), options.suite ?? (await defaultSuite()), pki, options.masks);
  }

  get state(): SecAggServerState {
    return this.stateValue;
  }

  snapshot(): SecAggServerSnapshot {
    return {
      version: 3,
      config: this.config,
      graphValue: this.graphValue,
      state: this.stateValue,
      expected: [...this.expectedSet],
      keys: [...this.keys.values()],
      shareMsgs: [...this.shareMsgs.values()],
      maskedFrom: [...this.maskedFrom],
      maskedSum: this.maskedSum ? wordsAsBytes(this.maskedSum) : null,
      signatures: [...this.signatures].map(([from, signature]) => ({ from, signature })),
      unmaskRequests: [...this.unmaskRequests.values()],
      unmaskShares: [...this.unmaskShares.values()],
      u1: [...this.u1],
      u2: [...this.u2],
      u3: [...this.u3],
      droppedAt: [...this.droppedAt],
      boxReports: [...this.boxReports].map(([from, unopened]) => ({ from, unopened })),
    };
  }

  /** Rebuilds a server from `snapshot()`; the masked inputs are checked like fresh input. */
  static async restore(s: SecAggServerSnapshot, options: SecAggServerOptions = {}): Promise<SecAggServer> {
    if (s?.version !== 2 && s?.version !== 3) throw new SecAggError('bad-parameters', 'unknown SecAgg server snapshot version');
    const server = await SecAggServer.create(s.config, s.graphValue, options);
    server.stateValue = s.state;
    server.expectedSet = new Set(s.expected);
    for (const m of s.keys) server.keys.set(m.from, m);
    for (const m of s.shareMsgs) server.shareMsgs.set(m.from, m);
    for (const { from, masked } of s.masked ?? []) {
      const words = bytesAsWords(masked);
      checkRingVector(words, s.config.dim, s.config.bits, from);
      server.addMasked(from, words);
    }
    if (s.version === 3) {
      if (s.maskedSum) {
        const words = bytesAsWords(s.maskedSum);
        checkRingVector(words, s.config.dim, s.config.bits);
        server.maskedSum = words;
      }
      for (const from of s.maskedFrom ?? []) server.maskedFrom.add(from);
      if ((server.maskedSum === null) !== (server.maskedFrom.size === 0))
        throw new SecAggError('bad-parameters', 'SecAgg server snapshot: masked-input senders without their sum (or a sum without senders)');
    }
    for (const { from, signature } of s.signatures) server.signatures.set(from, signature);
    for (const m of s.unmaskRequests) server.unmaskRequests.set(m.to, m);
    for (const m of s.unmaskShares) server.unmaskShares.set(m.from, m);
    server.u1 = new Set(s.u1);
    server.u2 = new Set(s.u2);
    server.u3 = new Set(s.u3);
    for (const [id, stage] of s.droppedAt) server.droppedAt.set(id, stage);
    for (const r of s.boxReports ?? []) server.boxReports.set(r.from, r.unopened);
    if (s.state !== 'advertise-keys' && server.u1.size > 0) await server.buildGraph();
    return server;
  }

  /** Σ y_u ← Σ y_u + y_from mod 2^B (a checked ring vector). */
  private addMasked(from: number, words: Uint32Array): void {
    if (!this.maskedSum) this.maskedSum = new Uint32Array(this.config.dim);
    addInPlace(this.maskedSum, words, this.config.bits);
    this.maskedFrom.add(from);
  }

  /** The neighbours of a client in this round's graph. */
  neighboursOf(id: number): readonly number[] {
    return this.graph.get(id) ?? [];
  }

  /** Clients that must answer the current stage. */
  expected(): number[] {
    return [...this.expectedSet].sort((a, b) => a - b);
  }

  /** Clients expected in the current stage that have not answered yet. */
  pending(): number[] {
    const got = this.receivedInStage();
    return this.expected().filter((id) => !got.has(id));
  }

  /** The stage at which each dropped client dropped. */
  dropouts(): ReadonlyMap<number, SecAggStage> {
    return this.droppedAt;
  }

  /** Who reported whose share box unopenable (with their masked inputs): reporter → neighbours. */
  shareBoxReports(): ReadonlyMap<number, readonly number[]> {
    return this.boxReports;
  }

  private receivedInStage(): ReadonlySet<number> | ReadonlyMap<number, unknown> {
    switch (this.stateValue) {
      case 'advertise-keys':
        return this.keys;
      case 'share-keys':
        return this.shareMsgs;
      case 'masked-input':
        return this.maskedFrom;
      case 'consistency-check':
        return this.signatures;
      case 'unmasking':
        return this.unmaskShares;
      default:
        return new Set();
    }
  }

  /**
   * Validates and stores one client message. Returns null when accepted, else the typed reason it was
   * refused (the message is dropped; nothing else changes).
   */
  async receive(message: SecAggClientMessage): Promise<SecAggError | null> {
    try {
      await this.accept(message);
      return null;
    } catch (e) {
      if (e instanceof SecAggError) return e;
      return new SecAggError('bad-message', `malformed message: ${(e as Error).message}`);
    }
  }

  private async accept(m: SecAggClientMessage): Promise<void> {
    if (typeof m !== 'object' || m === null || typeof m.type !== 'string') throw new SecAggError('bad-message', 'not a SecAgg client message');
    if (m.roundId !== this.config.roundId)
      throw new SecAggError('wrong-round', `message for round ${String(m.roundId)}, this is ${this.config.roundId}`, m.from);
    if (this.stateValue === 'done' || this.stateValue === 'aborted')
      throw new SecAggError('aborted', `round ${this.config.roundId} is over (${this.stateValue})`, m.from);
    const want = STAGE_MESSAGE[this.stateValue];
    if (m.type !== want) throw new SecAggError('wrong-stage', `got ${m.type} during ${this.stateValue} (expecting ${want})`, m.from);
    const from = m.from;
    if (!Number.isInteger(from) || !this.expectedSet.has(from)) {
      throw new SecAggError('unknown-client', `client ${String(from)} is not expected in ${this.stateValue}`, Number.isInteger(from) ? from : undefined);
    }
    if (this.receivedInStage().has(from)) throw new SecAggError('duplicate', `client ${from} already answered ${this.stateValue}; keeping the first`, from);
    switch (m.type) {
      case 'advertise-keys': {
        for (const [name, key] of [
          ['encryption', m.encryptionKey],
          ['masking', m.maskingKey],
          ['signing', m.signingKey],
        ] as const) {
          if (!(key instanceof Uint8Array) || key.length !== 32) throw new SecAggError('malformed-key', `client ${from}'s ${name} key is not 32 bytes`, from);
        }
        if (!(m.graphContribution instanceof Uint8Array) || m.graphContribution.length !== 32)
          throw new SecAggError('bad-message', `client ${from}'s graph contribution is not 32 bytes`, from);
        if (isSmallOrderX25519(m.encryptionKey) || isSmallOrderX25519(m.maskingKey)) {
          throw new SecAggError('malformed-key', `client ${from} advertised an X25519 key of small order`, from);
        }
        if (isSmallOrderEd25519(m.signingKey)) {
          // The identity (or another small-order point) as a signing key would accept a universal signature.
          throw new SecAggError('malformed-key', `client ${from} advertised an Ed25519 signing key of small order (or not canonically encoded)`, from);
        }
        if (this.pki) await this.checkIdentity(m);
        this.keys.set(from, m);
        return;
      }
      case 'share-keys': {
        if (!(m.selfMaskCommitment instanceof Uint8Array) || m.selfMaskCommitment.length !== 32)
          throw new SecAggError('bad-message', `client ${from}'s self-mask commitment is not 32 bytes`, from);
        if (!Array.isArray(m.shares)) throw new SecAggError('bad-message', `client ${from}'s shares are not a list`, from);
        const want = new Set(this.neighboursOf(from).filter((v) => this.u1.has(v)));
        const seen = new Set<number>();
        for (const s of m.shares) {
          if (!want.has(s?.to) || seen.has(s.to))
            throw new SecAggError('bad-message', `client ${from} addressed a share to ${String(s?.to)}, not one of its live neighbours (or twice)`, from);
          if (!(s.ciphertext instanceof Uint8Array) || s.ciphertext.length !== SHARE_BOX_BYTES)
            throw new SecAggError('bad-message', `client ${from}'s share box for ${s.to} is not ${SHARE_BOX_BYTES} bytes`, from);
          seen.add(s.to);
        }
        if (seen.size !== want.size) throw new SecAggError('bad-message', `client ${from} shared with ${seen.size} of its ${want.size} live neighbours`, from);
        this.shareMsgs.set(from, m);
        return;
      }
      case 'masked-input': {
        if (m.bits !== this.config.bits)
          throw new SecAggError('bad-message', `client ${from} sent a masked input mod 2^${m.bits}; the round is mod 2^${this.config.bits}`, from);
        checkRingVector(m.masked, this.config.dim, this.config.bits, from);
        const unopened = m.unopenedShareBoxes ?? [];
        if (!Array.isArray(unopened)) throw new SecAggError('bad-message', `client ${from}'s unopened share boxes are not a list`, from);
        for (let i = 0; i < unopened.length; i++) {
          const v = unopened[i]!;
          // Only a box the server forwarded to `from` can be reported, each once, ascending.
          if (!this.shareMsgs.get(v)?.shares.some((s) => s.to === from) || (i > 0 && v <= unopened[i - 1]!))
            throw new SecAggError(
              'bad-message',
              `client ${from} reported an unopened share box from ${String(v)}, which it was not sent (or out of order)`,
              from,
            );
        }
        this.addMasked(from, m.masked);
        if (unopened.length > 0) this.boxReports.set(from, [...unopened]);
        return;
      }
      case 'consistency-signature': {
        const ok =
          m.signature instanceof Uint8Array &&
          (await this.suite.ed25519Verify(
            this.keys.get(from)!.signingKey,
            consistencyMessage(this.config.roundId, this.graphSeed!, [...this.u3]),
            m.signature,
          ));
        if (!ok) throw new SecAggError('bad-signature', `client ${from}'s consistency signature does not verify`, from);
        this.signatures.set(from, m.signature);
        return;
      }
      case 'unmask-shares': {
        const req = this.unmaskRequests.get(from)!;
        const check = (list: unknown, allowed: readonly number[], what: string) => {
          if (!Array.isArray(list)) throw new SecAggError('bad-message', `client ${from}'s ${what} are not a list`, from);
          const ok = new Set(allowed);
          const seen = new Set<number>();
          for (const s of list as { of: number; share: Uint8Array }[]) {
            if (!ok.has(s?.of) || seen.has(s.of))
              throw new SecAggError('bad-message', `client ${from} sent an unrequested ${what.slice(0, -1)} of ${String(s?.of)}`, from);
            if (!(s.share instanceof Uint8Array)) throw new SecAggError('bad-message', `client ${from}'s share of ${s.of} is not bytes`, from);
            decodeShare(from, s.share); // throws on a wrong size or a non-field element
            seen.add(s.of);
          }
        };
        check(m.selfMaskShares, req.revealSelfMaskOf, 'self-mask shares');
        check(m.maskKeyShares, req.revealMaskKeyOf, 'mask-key shares');
        this.unmaskShares.set(from, m);
        return;
      }
    }
    throw new SecAggError('bad-message', `unknown message type ${String((m as { type: unknown }).type)}`);
  }

  /** PKI mode: a valid certificate and signature over the keys, and a subject no other advertiser holds. */
  private async checkIdentity(m: AdvertiseKeysMsg): Promise<void> {
    const { from } = m;
    let subject: string;
    let identityKey: Uint8Array;
    try {
      ({ subject, publicKey: identityKey } = await verifyIdentityProof(
        m.identity,
        this.pki!.authorityKey,
        this.pki!.now(),
        this.config.roundId,
        {
          id: from,
          encryptionKey: m.encryptionKey,
          maskingKey: m.maskingKey,
          signingKey: m.signingKey,
          graphContribution: m.graphContribution,
        },
        this.suite,
      ));
    } catch (e) {
      if (e instanceof SecAggError) throw new SecAggError(e.code, `client ${from} refused (PKI mode): ${e.message}`, from);
      throw e;
    }
    // Another message from `from` may have been taken while this one was being verified.
    if (this.keys.has(from)) throw new SecAggError('duplicate', `client ${from} already answered advertise-keys; keeping the first`, from);
    for (const other of this.keys.values()) {
      const cert = other.identity?.certificate;
      if (cert && (cert.subject === subject || equalBytes(cert.publicKey, identityKey)))
        throw new SecAggError('duplicate', `client ${from} presents the identity ${subject}, which client ${other.from} already advertised with`, from);
    }
  }

  /** Closes the current stage and opens the next (or finishes). */
  async advance(): Promise<ServerStep> {
    const stage = this.stateValue;
    if (stage === 'done' || stage === 'aborted') {
      return { outgoing: [], dropped: [], state: stage, error: new SecAggError('aborted', `round ${this.config.roundId} is already ${stage}`) };
    }
    const answered = this.receivedInStage();
    const dropped = this.expected().filter((id) => !answered.has(id));
    for (const id of dropped) this.droppedAt.set(id, stage);
    try {
      switch (stage) {
        case 'advertise-keys':
          return await this.closeAdvertise(dropped);
        case 'share-keys':
          return this.closeShareKeys(dropped);
        case 'masked-input':
          return this.closeMaskedInput(dropped);
        case 'consistency-check':
          return this.closeConsistency(dropped);
        case 'unmasking':
          return await this.closeUnmasking(dropped);
      }
    } catch (e) {
      const error = e instanceof SecAggError ? e : new SecAggError('unrecoverable', (e as Error).message);
      this.stateValue = 'aborted';
      return { outgoing: [], dropped, state: 'aborted', error, ...(error.misbehaving?.length ? { misbehaving: error.misbehaving } : {}) };
    }
  }

  private liveNeighbours(id: number, alive: ReadonlySet<number>): number[] {
    return this.neighboursOf(id).filter((v) => alive.has(v));
  }

  /**
   * Moves to `next` expecting `candidates`, except those with fewer than t live neighbours: such a client
   * aborts on its own (it cannot meet the threshold), so it is counted as dropped now.
   */
  private openStage(next: SecAggStage, candidates: Iterable<number>, alive: ReadonlySet<number>, alreadyDropped: number[]): number[] {
    const t = this.config.threshold;
    const expected = new Set<number>();
    const cut: number[] = [];
    for (const id of candidates) {
      if (this.liveNeighbours(id, alive).length >= t) expected.add(id);
      else {
        cut.push(id);
        this.droppedAt.set(id, next);
      }
    }
    this.stateValue = next;
    this.expectedSet = expected;
    return [...alreadyDropped, ...cut];
  }

  /** The advertisers' contributions, ascending by id: the opening every client checks. */
  private advertisers(): { id: number; contribution: Uint8Array }[] {
    return [...this.u1].sort((a, b) => a - b).map((id) => ({ id, contribution: this.keys.get(id)!.graphContribution }));
  }

  private async buildGraph(): Promise<void> {
    this.graphSeed = graphSeedOf(this.config.roundId, this.graphValue, this.advertisers());
    this.graph = await neighbourGraph([...this.u1], this.config.neighbours, this.graphSeed);
  }

  private async closeAdvertise(dropped: number[]): Promise<ServerStep> {
    this.u1 = new Set(this.keys.keys());
    // With 2 parties each learns the other's input from the sum.
    if (this.u1.size < 3) throw new SecAggError('unrecoverable', `only ${this.u1.size} client(s) advertised keys; SecAgg needs at least 3`);
    await this.buildGraph();
    const advertisers = this.advertisers();
    const outgoing: SecAggServerMessage[] = [];
    for (const u of this.u1) {
      const keys: AdvertisedKeys[] = this.neighboursOf(u).map((v) => {
        const k = this.keys.get(v)!;
        return { id: v, encryptionKey: k.encryptionKey, maskingKey: k.maskingKey, signingKey: k.signingKey, ...(k.identity ? { identity: k.identity } : {}) };
      });
      outgoing.push({ type: 'neighbour-keys', roundId: this.config.roundId, to: u, graphValue: this.graphValue, advertisers, keys });
    }
    const all = this.openStage('share-keys', this.u1, this.u1, dropped);
    return { outgoing, dropped: all, state: this.stateValue };
  }

  private closeShareKeys(dropped: number[]): ServerStep {
    this.u2 = new Set(this.shareMsgs.keys());
    if (this.u2.size < 3) throw new SecAggError('unrecoverable', `only ${this.u2.size} client(s) shared their keys; SecAgg needs at least 3`);
    const inbox = new Map<number, { from: number; ciphertext: Uint8Array }[]>();
    for (const u of this.u2) inbox.set(u, []);
    for (const [from, msg] of this.shareMsgs) {
      for (const s of msg.shares) inbox.get(s.to)?.push({ from, ciphertext: s.ciphertext });
    }
    const outgoing: SecAggServerMessage[] = [...inbox].map(([to, shares]) => ({
      type: 'shares-for-you',
      roundId: this.config.roundId,
      to,
      shares: shares.sort((a, b) => a.from - b.from),
    }));
    const all = this.openStage('masked-input', this.u2, this.u2, dropped);
    return { outgoing, dropped: all, state: this.stateValue };
  }

  private closeMaskedInput(dropped: number[]): ServerStep {
    this.u3 = new Set(this.maskedFrom);
    // A sum of two inputs is each one's input to the other.
    if (this.u3.size < 3) throw new SecAggError('unrecoverable', `only ${this.u3.size} client(s) sent a masked input; SecAgg needs at least 3`);
    this.checkRecoverable(this.u3, 'sent a masked input');
    const survivors = [...this.u3].sort((a, b) => a - b);
    const outgoing: SecAggServerMessage[] = survivors.map((to) => ({ type: 'survivors', roundId: this.config.roundId, to, survivors }));
    const all = this.openStage('consistency-check', this.u3, this.u3, dropped);
    return { outgoing, dropped: all, state: this.stateValue };
  }

  /**
   * Every secret the unmasking will need — b_v for v ∈ U3, s_v^SK for v ∈ U2 \ U3 with a neighbour in U3 —
   * must still have at least t potential holders among `alive`; otherwise abort now, naming the client. A
   * neighbour that reported v's share box unopenable holds nothing of v. When those reports are what leaves
   * v short of t, v is accused (`misbehaving`, the reporters as evidence). The server cannot check a report,
   * so the accusation is only as good as its reporters: the run engine excludes v only when more of them
   * reported than the parameters allow colluders (at least one is then honest).
   */
  private checkRecoverable(alive: ReadonlySet<number>, what: string): void {
    const t = this.config.threshold;
    const blamed: Misbehaviour[] = [];
    let first: SecAggError | undefined;
    for (const v of [...this.u2].sort((a, b) => a - b)) {
      const needed = this.u3.has(v) || this.liveNeighbours(v, this.u3).length > 0;
      if (!needed) continue;
      const candidates = this.liveNeighbours(v, alive).filter((w) => this.u2.has(w));
      const reporters = candidates.filter((w) => this.boxReports.get(w)?.includes(v));
      const holders = candidates.length - reporters.length;
      if (holders >= t) continue;
      const secret = this.u3.has(v) ? 'self-mask seed' : 'mask key';
      if (reporters.length > 0 && candidates.length >= t) {
        blamed.push({
          id: v,
          reason: `client ${v}'s share boxes to ${reporters.join(', ')} did not open, which leaves its ${secret} with ${holders} holders, fewer than t=${t}`,
          evidence: reporters,
        });
      }
      first ??= new SecAggError(
        'unrecoverable',
        `cannot unmask client ${v}: only ${holders} of the neighbours holding shares of its ${secret} ${what}${reporters.length ? ` (${reporters.length} could not open its share box)` : ''}, the threshold is t=${t}`,
        v,
      );
    }
    if (first) throw new SecAggError(first.code, first.message, first.clientId, blamed);
  }

  private closeConsistency(dropped: number[]): ServerStep {
    const u4 = new Set(this.signatures.keys());
    this.checkRecoverable(u4, 'signed the survivor set');
    const outgoing: SecAggServerMessage[] = [];
    for (const u of [...u4].sort((a, b) => a - b)) {
      const nb = this.neighboursOf(u);
      const req: UnmaskRequestMsg = {
        type: 'unmask-request',
        roundId: this.config.roundId,
        to: u,
        signatures: nb.filter((v) => u4.has(v)).map((v) => ({ id: v, signature: this.signatures.get(v)! })),
        revealSelfMaskOf: nb.filter((v) => this.u3.has(v)),
        revealMaskKeyOf: nb.filter((v) => this.u2.has(v) && !this.u3.has(v)),
      };
      this.unmaskRequests.set(u, req);
      outgoing.push(req);
    }
    const all = this.openStage('unmasking', u4, u4, dropped);
    return { outgoing, dropped: all, state: this.stateValue };
  }

  private async closeUnmasking(dropped: number[]): Promise<ServerStep> {
    const { bits, dim, threshold: t, roundId } = this.config;
    const selfShares = new Map<number, ShamirShare[]>();
    const keyShares = new Map<number, ShamirShare[]>();
    for (const [from, msg] of this.unmaskShares) {
      for (const s of msg.selfMaskShares) pushTo(selfShares, s.of, decodeShare(from, s.share));
      for (const s of msg.maskKeyShares) pushTo(keyShares, s.of, decodeShare(from, s.share));
    }
    const survivors = [...this.u3].sort((a, b) => a - b);
    const droppedSharers = [...this.u2].filter((v) => !this.u3.has(v) && this.liveNeighbours(v, this.u3).length > 0).sort((a, b) => a - b);

    // Reconstruct every secret first: abort before any work if one is missing or cannot be verified.
    const needs: SecretNeed[] = [
      ...survivors.map((v): SecretNeed => {
        const commitment = this.shareMsgs.get(v)!.selfMaskCommitment;
        return { v, what: 'self-mask seed', shares: selfShares.get(v) ?? [], verify: async (seed) => equalBytes(sha256(seed), commitment) };
      }),
      ...droppedSharers.map((v): SecretNeed => {
        const advertised = this.keys.get(v)!.maskingKey;
        return {
          v,
          what: 'mask key',
          dropped: true,
          shares: keyShares.get(v) ?? [],
          verify: async (key) => equalBytes(await this.suite.x25519PublicFromPrivate(key), advertised),
        };
      }),
    ];
    const recovered = await recoverSecrets(needs, t);
    const misbehaving = recovered.misbehaving.length > 0 ? { misbehaving: recovered.misbehaving } : {};
    if (recovered.error) {
      this.stateValue = 'aborted';
      return { outgoing: [], dropped, state: 'aborted', error: recovered.error, ...misbehaving };
    }
    const selfSeeds = new Map(survivors.map((v) => [v, recovered.secrets.get(v)!]));
    const maskKeys = new Map(droppedSharers.map((v) => [v, recovered.secrets.get(v)!]));

    // Σ y_u − Σ PRG(b_u) − Σ_{v dropped, w ∈ N(v) ∩ U3} p_{w,v}
    // The running sum is the sum of exactly U3's inputs; it is unmasked in place (the round is done after).
    const sum = this.maskedSum ?? new Uint32Array(dim);
    this.maskedSum = null;
    const terms: MaskTerm[] = survivors.map((v) => ({ seed: selfSeeds.get(v)!, sign: -1 }));
    const pairs = droppedSharers.flatMap((v) => this.liveNeighbours(v, this.u3).map((w) => [v, w] as const));
    const pairTerms: MaskTerm[] = new Array(pairs.length);
    // Removing p_{w,v} from w's input is adding p_{v,w} = Δ_{v,w}·PRG(s_{v,w}), Δ_{v,w} = +1 when v < w.
    await runLimited(
      pairs.map(([v, w], i) => async () => {
        pairTerms[i] = { seed: await pairwiseSeed(this.suite, roundId, v, maskKeys.get(v)!, w, this.keys.get(w)!.maskingKey), sign: v < w ? 1 : -1 };
      }),
      EXPANSION_CONCURRENCY,
    );
    await this.masks.apply(sum, terms.concat(pairTerms), bits);
    this.stateValue = 'done';
    return { outgoing: [], dropped, state: 'done', result: { sum, included: survivors }, ...misbehaving };
  }
}

/** One secret the unmasking needs: all shares received of it, and its independent check. */
interface SecretNeed {
  readonly v: number;
  readonly what: 'self-mask seed' | 'mask key';
  /** A dropped client's secret (named so in messages). */
  readonly dropped?: boolean;
  readonly shares: readonly ShamirShare[];
  /** Whether a 32-byte candidate is the secret: SHA-256 commitment of b_v, or X25519(s_v^SK) = advertised key. */
  readonly verify: (secret: Uint8Array) => Promise<boolean>;
}

/**
 * Decodes every needed secret from all its shares, correcting up to ⌊(m − t)/2⌋ wrong ones (Gao's decoder,
 * reedSolomon.ts), and accepts a decoding only if it verifies; the holders whose shares disagree with a
 * verified secret are proven liars. A secret whose decoding does not verify is searched for by erasures
 * (decodeByErasures); one still missing is retried without the shares of liars proven on other secrets,
 * until nothing changes. Returns the secrets, or the error for the
 * first secret (in the order given) that still fails, and the liars either way.
 */
async function recoverSecrets(
  needs: readonly SecretNeed[],
  t: number,
): Promise<{ secrets: Map<number, Uint8Array>; misbehaving: Misbehaviour[]; error?: SecAggError }> {
  const secrets = new Map<number, Uint8Array>();
  const liedAbout = new Map<number, string[]>();
  /** Liar → the dealers whose secrets its shares were wrong for. */
  const dealers = new Map<number, Set<number>>();
  const failures = new Map<number, SecAggError>();
  const label = (n: SecretNeed) => `${n.dropped ? 'dropped ' : ''}client ${n.v}'s ${n.what}`;
  const budget = { left: MAX_ERASURE_TRIALS_PER_ROUND };
  const attempt = async (n: SecretNeed, shares: readonly ShamirShare[], excluded: readonly number[]): Promise<boolean> => {
    const without = excluded.length > 0 ? ` without the shares of proven liars ${excluded.join(', ')}` : '';
    if (shares.length < t) {
      const what = `${n.dropped ? 'dropped ' : ''}client ${n.v}: ${shares.length} of the t=${t} shares of its ${n.what}`;
      failures.set(n.v, new SecAggError('unrecoverable', `cannot unmask ${what} arrived${without}`, n.v));
      return false;
    }
    const d = decodeShares(shares, t);
    const candidate = d.ok && d.secret < 1n << 256n ? bigIntToBytes(d.secret, 32) : undefined;
    // Within the decoder's radius the first decoding verifies; beyond it, the check finds the secret by erasures.
    const found =
      candidate && d.ok && (await n.verify(candidate)) ? { secret: candidate, wrong: d.wrong } : await decodeByErasures(shares, t, n.verify, budget);
    if (found) {
      secrets.set(n.v, found.secret);
      failures.delete(n.v);
      for (const x of found.wrong) {
        pushTo(liedAbout, x, label(n));
        dealers.set(x, (dealers.get(x) ?? new Set<number>()).add(n.v));
      }
      return true;
    }
    const why = d.ok
      ? `does not match ${n.what === 'mask key' ? 'its advertised key' : 'its commitment'}`
      : `cannot be reconstructed: its shares are inconsistent, more than the ${d.correctable} wrong one(s) the threshold t=${t} lets the decoder correct`;
    failures.set(
      n.v,
      new SecAggError(
        'unrecoverable',
        `${label(n)} from ${shares.length} shares${without} ${why}, and no erasure of share subsets verifies (${MAX_ERASURE_TRIALS} tried at most): a neighbour sent a bad share`,
        n.v,
      ),
    );
    return false;
  };
  for (const n of needs) await attempt(n, n.shares, []);
  // Retry the failures without the shares of liars proven on other secrets, while that proves new ones.
  for (let progress = true; progress && failures.size > 0; ) {
    progress = false;
    for (const n of needs) {
      if (secrets.has(n.v)) continue;
      const excluded = n.shares.filter((s) => liedAbout.has(s.x)).map((s) => s.x);
      if (excluded.length === 0) continue;
      const ok = await attempt(
        n,
        n.shares.filter((s) => !liedAbout.has(s.x)),
        excluded.sort((a, b) => a - b),
      );
      progress ||= ok;
    }
  }
  const misbehaving = [...liedAbout]
    .sort(([a], [b]) => a - b)
    .map(([id, about]) => ({
      id,
      reason: `client ${id} sent wrong unmask shares of ${about.join(', ')}`,
      evidence: [...dealers.get(id)!].sort((a, b) => a - b),
    }));
  const first = needs.find((n) => failures.has(n.v));
  if (!first) return { secrets, misbehaving };
  const base = failures.get(first.v)!;
  const named = misbehaving.length > 0 ? `; proven to have sent wrong shares: ${misbehaving.map((m) => m.id).join(', ')}` : '';
  return { secrets, misbehaving, error: new SecAggError(base.code, base.message + named, first.v) };
}

/** Decodings tried per secret beyond the decoder's radius (m − t ≤ 2 erasures of up to ~20 shares). */
const MAX_ERASURE_TRIALS = 256;
/** Decodings tried by erasures in one unmasking, all secrets together: lying parties cannot make it slow. */
const MAX_ERASURE_TRIALS_PER_ROUND = 4096;

/**
 * The secret of `shares` when more are wrong than Gao's decoder corrects but at least t are right: decode
 * with e = 1, 2, … shares erased (an erasure costs half an error) until a decoding verifies, within
 * MAX_ERASURE_TRIALS decodings and what is left of the round's budget. The check (commitment or advertised
 * key) is what makes a hit certain; the liars are then every holder whose share is off the verified
 * polynomial. Null when nothing verifies.
 */
async function decodeByErasures(
  shares: readonly ShamirShare[],
  t: number,
  verify: (secret: Uint8Array) => Promise<boolean>,
  budget: { left: number },
): Promise<{ secret: Uint8Array; wrong: readonly number[] } | null> {
  let trials = 0;
  for (let e = 1; shares.length - e >= t; e++) {
    for (const erased of combinations(shares.length, e)) {
      if (++trials > MAX_ERASURE_TRIALS || budget.left-- <= 0) return null;
      const kept = shares.filter((_, i) => !erased.includes(i));
      const d = decodeShares(kept, t);
      if (!d.ok || d.secret >= 1n << 256n) continue;
      const secret = bigIntToBytes(d.secret, 32);
      if (!(await verify(secret))) continue;
      const right = kept.filter((s) => !d.wrong.includes(s.x)).slice(0, t);
      return { secret, wrong: sharesOffPolynomial(shares, right) };
    }
  }
  return null;
}

/** The e-element subsets of {0, …, n − 1}, in lexicographic order. */
function* combinations(n: number, e: number): Generator<number[]> {
  const c = Array.from({ length: e }, (_, i) => i);
  while (true) {
    yield [...c];
    let i = e - 1;
    while (i >= 0 && c[i] === n - e + i) i--;
    if (i < 0) return;
    c[i]!++;
    for (let j = i + 1; j < e; j++) c[j] = c[j - 1]! + 1;
  }
}

function pushTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
