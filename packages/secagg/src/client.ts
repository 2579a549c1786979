/**
 * The SecAgg+ client as a state machine without I/O (Bonawitz et al. 2017, Fig. 4, client side; neighbours
 * from Bell et al. 2020): `advertise()` opens the round, `handle(message)` consumes each server message and
 * returns the reply. Messages for another round or stage, replays and malformed content are answered with a
 * typed warning and change nothing; a server that breaks the protocol — above all by asking for both the
 * self-mask share and the mask-key share of one neighbour — makes the client abort and reveal nothing.
 */
import { consistencyMessage, validateConfig } from './context.ts';
import { SecAggError } from './errors.ts';
import { checkClientIds, neighbourGraph } from './graph.ts';
import { equalBytes, freshGraphRandomness, graphCommitment, graphSeedOf } from './graphSeed.ts';
import { toHex } from './hex.ts';
import { checkOwnIdentity, signRoundKeys, verifyIdentityProof, type PkiClientOptions } from './identity.ts';
import { EXPANSION_CONCURRENCY, applyMask, applyPairwiseMask, pairwiseSeed, runLimited } from './masks.ts';
import { checkSecAggParamsMeet, type SecAggRequirement } from './params.ts';
import type {
  AdvertiseKeysMsg,
  AdvertisedKeys,
  NeighbourKeysMsg,
  SecAggClientMessage,
  SecAggConfig,
  SecAggServerMessage,
  SharesForYouMsg,
  SurvivorsMsg,
  UnmaskRequestMsg,
} from './messages.ts';
import { decodeShare, encodeShare, splitSecret } from './shamir.ts';
import { openShareBox, sealShareBox, shareBoxKey, type OpenedShareBox } from './shareBox.ts';
import { isSmallOrderEd25519, isSmallOrderX25519 } from './smallOrder.ts';
import { defaultSuite, type CryptoSuite, type KeyPair } from './suite.ts';
import { sha256 } from './symmetric.ts';
import { checkRingVector } from './vector.ts';

export interface ClientStep {
  /** The reply to send, if any. */
  readonly outgoing?: SecAggClientMessage;
  /** Problems that did not stop the client: an ignored message, a neighbour's share box that failed to open. */
  readonly warnings: readonly SecAggError[];
  /** Set when the client aborted the round: it sends nothing more. */
  readonly aborted?: SecAggError;
}

export type SecAggClientState = 'new' | 'advertised' | 'shared' | 'masked' | 'signed' | 'done' | 'aborted';

/**
 * Everything a client needs to continue a round after a restart (a reloaded tab): structured-cloneable, for
 * IndexedDB. It holds the round's secret keys and shares, so it must stay on the device; persisting it is
 * also what keeps "never reveal both shares of one client" true across reloads.
 */
export interface SecAggClientSnapshot {
  readonly version: 2;
  readonly config: SecAggConfig;
  readonly id: number;
  readonly input: Uint32Array;
  readonly state: SecAggClientState;
  readonly graphContribution?: Uint8Array;
  /** Once the graph is opened: its seed, U1 and N(u). */
  readonly graph?: { readonly seed: Uint8Array; readonly advertisers: number[]; readonly neighbours: number[] };
  readonly encryption?: KeyPair;
  readonly masking?: KeyPair;
  readonly signing?: KeyPair;
  readonly neighbourKeys: AdvertisedKeys[];
  readonly boxKeys: [number, Uint8Array][];
  readonly pairSeeds: [number, Uint8Array][];
  readonly held: [number, { selfMaskShare: Uint8Array; maskKeyShare: Uint8Array }][];
  readonly sharers: number[];
  readonly survivors?: number[];
  readonly selfMaskSeed?: Uint8Array;
  /** PKI mode: the subject of the identity the client advertised with (the identity key itself is never stored here). */
  readonly pki?: { readonly subject: string };
}

export interface SecAggClientOptions {
  readonly suite?: CryptoSuite;
  /** What the task says the round must withstand (params.ts). */
  readonly requirement?: SecAggRequirement;
  /** PKI mode (identity.ts): sign the round keys with a certified identity key, verify every neighbour's. */
  readonly pki?: PkiClientOptions;
}

const EXPECTED_STATE: Record<SecAggServerMessage['type'], SecAggClientState> = {
  'neighbour-keys': 'advertised',
  'shares-for-you': 'shared',
  survivors: 'masked',
  'unmask-request': 'signed',
};
const ORDER: SecAggClientState[] = ['new', 'advertised', 'shared', 'masked', 'signed', 'done'];

export class SecAggClient {
  private stateValue: SecAggClientState = 'new';
  private encryption?: KeyPair;
  private masking?: KeyPair;
  private signing?: KeyPair;
  private readonly neighbourKeys = new Map<number, AdvertisedKeys>();
  private readonly boxKeys = new Map<number, Uint8Array>();
  /** s_{u,v} for every neighbour that advertised, derived while sharing so masking only expands. */
  private readonly pairSeeds = new Map<number, Uint8Array>();
  /** Shares this client holds, by the neighbour they belong to. */
  private readonly held = new Map<number, OpenedShareBox>();
  /** Neighbours whose share boxes the server delivered (this client's view of U2 ∩ N(u)). */
  private readonly sharers = new Set<number>();
  private survivors?: Set<number>;
  /** r_u, sent with the keys. */
  private graphContribution?: Uint8Array;
  /** The graph this client derived from the opening (graphSeed.ts): seed, U1, and N(u) in the graph over U1. */
  private graph?: { seed: Uint8Array; advertisers: ReadonlySet<number>; neighbours: ReadonlySet<number> };

  private constructor(
    readonly config: SecAggConfig,
    readonly id: number,
    private readonly input: Uint32Array,
    private readonly suite: CryptoSuite,
    private readonly pki?: PkiClientOptions,
  ) {}

  /** N(u) in the round's graph (empty until the coordinator has opened the graph seed). */
  get neighbours(): ReadonlySet<number> {
    return this.graph?.neighbours ?? new Set();
  }

  /**
   * `requirement` is what the task says the round must withstand (γ or maxColluders, δ); without one the
   * defaults δ = γ = 0.1 apply, never γ = 0. A (k, t) weaker than that needs for n is refused (issue 12 §4).
   * `pki` turns on PKI mode (issue 12 §6, identity.ts); its authority key must come from the client's own
   * configuration, never from the coordinator. The identity is checked here (certificate valid now, private
   * key matching it).
   */
  static async create(config: SecAggConfig, id: number, input: Uint32Array, options: SecAggClientOptions = {}): Promise<SecAggClient> {
    const ids = validateConfig(config);
    checkSecAggParamsMeet(ids.length, config.neighbours, config.threshold, options.requirement ?? {});
    if (!ids.includes(id)) throw new SecAggError('unknown-client', `client ${id} is not selected for round ${config.roundId}`, id);
    checkRingVector(input, config.dim, config.bits, id);
    const suite = options.suite ?? (await defaultSuite());
    if (options.pki) {
      try {
        await checkOwnIdentity(options.pki, (options.pki.now ?? Date.now)(), suite);
      } catch (e) {
        if (e instanceof SecAggError) throw new SecAggError(e.code, `client ${id} cannot take part in PKI mode: ${e.message}`, id);
        throw e;
      }
    }
    return new SecAggClient(config, id, input, suite, options.pki);
  }

  get state(): SecAggClientState {
    return this.stateValue;
  }

  /** A snapshot of the whole state (see SecAggClientSnapshot). */
  snapshot(): SecAggClientSnapshot {
    return {
      version: 2,
      config: this.config,
      id: this.id,
      input: this.input,
      state: this.stateValue,
      ...(this.graphContribution ? { graphContribution: this.graphContribution } : {}),
      ...(this.graph ? { graph: { seed: this.graph.seed, advertisers: [...this.graph.advertisers], neighbours: [...this.graph.neighbours] } } : {}),
      ...(this.encryption ? { encryption: this.encryption } : {}),
      ...(this.masking ? { masking: this.masking } : {}),
      ...(this.signing ? { signing: this.signing } : {}),
      neighbourKeys: [...this.neighbourKeys.values()],
      boxKeys: [...this.boxKeys],
      pairSeeds: [...this.pairSeeds],
      held: [...this.held].map(([v, h]) => [v, { selfMaskShare: encodeShare(h.selfMaskShare), maskKeyShare: encodeShare(h.maskKeyShare) }]),
      sharers: [...this.sharers],
      ...(this.survivors ? { survivors: [...this.survivors] } : {}),
      ...(this.selfMaskSeed ? { selfMaskSeed: this.selfMaskSeed } : {}),
      ...(this.pki ? { pki: { subject: this.pki.identity.certificate.subject } } : {}),
    };
  }

  /** Rebuilds a client from a snapshot, checking it like fresh input; a PKI-mode snapshot needs the same `pki` again. */
  static async restore(s: SecAggClientSnapshot, options: SecAggClientOptions = {}): Promise<SecAggClient> {
    if (s?.version !== 2) throw new SecAggError('bad-message', 'unknown SecAgg client snapshot version');
    if (s.pki && options.pki?.identity.certificate.subject !== s.pki.subject)
      throw new SecAggError('bad-parameters', `the snapshot is of a PKI-mode client (${s.pki.subject}): restore it with the same identity`, s.id);
    const c = await SecAggClient.create(s.config, s.id, s.input, options);
    c.stateValue = s.state;
    c.graphContribution = s.graphContribution;
    if (s.graph) c.graph = { seed: s.graph.seed, advertisers: new Set(s.graph.advertisers), neighbours: new Set(s.graph.neighbours) };
    c.encryption = s.encryption;
    c.masking = s.masking;
    c.signing = s.signing;
    for (const k of s.neighbourKeys) c.neighbourKeys.set(k.id, k);
    for (const [v, k] of s.boxKeys) c.boxKeys.set(v, k);
    for (const [v, k] of s.pairSeeds) c.pairSeeds.set(v, k);
    for (const [v, h] of s.held) c.held.set(v, { selfMaskShare: decodeShare(c.id, h.selfMaskShare), maskKeyShare: decodeShare(c.id, h.maskKeyShare) });
    for (const v of s.sharers) c.sharers.add(v);
    if (s.survivors) c.survivors = new Set(s.survivors);
    c.selfMaskSeed = s.selfMaskSeed;
    return c;
  }

  /** Stage 0: fresh key pairs for this round only. */
  async advertise(): Promise<AdvertiseKeysMsg> {
    if (this.stateValue !== 'new') throw new SecAggError('replay', `client ${this.id} already advertised its keys`, this.id);
    [this.encryption, this.masking, this.signing] = await Promise.all([this.suite.x25519KeyPair(), this.suite.x25519KeyPair(), this.suite.ed25519KeyPair()]);
    this.graphContribution = freshGraphRandomness();
    const keys = {
      encryptionKey: this.encryption.publicKey,
      maskingKey: this.masking.publicKey,
      signingKey: this.signing.publicKey,
      graphContribution: this.graphContribution,
    };
    let identity: AdvertiseKeysMsg['identity'];
    if (this.pki) {
      const signature = await signRoundKeys(this.pki.identity.privateKey, this.config.roundId, { id: this.id, ...keys }, this.suite);
      identity = { certificate: this.pki.identity.certificate, signature };
    }
    this.stateValue = 'advertised';
    return { type: 'advertise-keys', roundId: this.config.roundId, from: this.id, ...keys, ...(identity ? { identity } : {}) };
  }

  async handle(message: SecAggServerMessage): Promise<ClientStep> {
    const warn = (code: SecAggError['code'], text: string): ClientStep => ({ warnings: [new SecAggError(code, text, this.id)] });
    if (this.stateValue === 'aborted' || this.stateValue === 'done') {
      return warn(
        this.stateValue === 'done' ? 'replay' : 'aborted',
        `client ${this.id} has ${this.stateValue === 'done' ? 'finished' : 'aborted'} round ${this.config.roundId}`,
      );
    }
    if (typeof message !== 'object' || message === null || !(message.type in EXPECTED_STATE)) {
      return warn('bad-message', `client ${this.id} got a message that is not a SecAgg server message`);
    }
    if (message.roundId !== this.config.roundId) {
      return warn('wrong-round', `client ${this.id} got a ${message.type} for round ${String(message.roundId)}, not ${this.config.roundId}`);
    }
    if (message.to !== this.id) return warn('bad-message', `client ${this.id} got a ${message.type} addressed to ${String(message.to)}`);
    const want = EXPECTED_STATE[message.type];
    if (want !== this.stateValue) {
      const late = ORDER.indexOf(this.stateValue) > ORDER.indexOf(want);
      return warn(
        late ? 'replay' : 'wrong-stage',
        `client ${this.id} in state ${this.stateValue} got ${message.type}${late ? ', already answered' : ' out of order'}`,
      );
    }
    try {
      switch (message.type) {
        case 'neighbour-keys':
          return await this.onNeighbourKeys(message);
        case 'shares-for-you':
          return await this.onSharesForYou(message);
        case 'survivors':
          return await this.onSurvivors(message);
        case 'unmask-request':
          return await this.onUnmaskRequest(message);
      }
    } catch (e) {
      const err = e instanceof SecAggError ? e : new SecAggError('protocol-violation', (e as Error).message, this.id);
      return this.abort(err);
    }
  }

  private abort(error: SecAggError): ClientStep {
    this.stateValue = 'aborted';
    // Secrets are no longer needed: drop every reference.
    this.held.clear();
    this.boxKeys.clear();
    this.pairSeeds.clear();
    this.selfMaskSeed = undefined;
    this.masking = this.encryption = this.signing = undefined;
    return { warnings: [], aborted: error };
  }

  private violation(text: string): never {
    throw new SecAggError('protocol-violation', `client ${this.id} aborts: ${text}`, this.id);
  }

  private checkIdList(list: unknown, what: string, allowed: (id: number) => boolean): number[] {
    if (!Array.isArray(list)) this.violation(`${what} is not a list`);
    const seen = new Set<number>();
    for (const id of list) {
      if (!Number.isInteger(id) || !allowed(id as number)) this.violation(`${what} names client ${String(id)}, which it may not`);
      if (seen.has(id as number)) this.violation(`${what} names client ${id} twice`);
      seen.add(id as number);
    }
    return list as number[];
  }

  /**
   * Checks the opening of the graph seed (graphSeed.ts) and derives N(u) from it: r_S must open the task's
   * commitment, U1 must be selected clients only and hold this client's own contribution unchanged.
   */
  private async openGraph(msg: NeighbourKeysMsg): Promise<void> {
    const { roundId, neighbours: k } = this.config;
    if (!(msg.graphValue instanceof Uint8Array) || !equalBytes(graphCommitment(roundId, msg.graphValue), this.config.graphCommitment))
      this.violation('the graph value does not open the commitment in the task');
    if (!Array.isArray(msg.advertisers)) this.violation('the advertiser list is not a list');
    const selected = new Set(this.config.clients);
    const ids = this.checkIdList(
      msg.advertisers.map((a) => a?.id),
      'the advertiser list',
      (id) => selected.has(id),
    );
    const mine = msg.advertisers.find((a) => a.id === this.id);
    if (!mine || !(mine.contribution instanceof Uint8Array) || !equalBytes(mine.contribution, this.graphContribution!))
      this.violation('the advertiser list leaves out or alters this client’s own graph contribution');
    if (ids.length < 3) this.violation(`only ${ids.length} advertisers: SecAgg needs at least 3`);
    let seed: Uint8Array;
    try {
      seed = graphSeedOf(roundId, msg.graphValue, msg.advertisers); // checks the ascending order and sizes
    } catch (e) {
      this.violation(`the advertiser list is malformed: ${(e as Error).message}`);
    }
    const u1 = checkClientIds(ids);
    const graph = await neighbourGraph(u1, k, seed);
    this.graph = { seed, advertisers: new Set(u1), neighbours: new Set(graph.get(this.id)) };
  }

  /**
   * PKI mode, before anything is shared: every neighbour shows a certificate from the pinned authority, valid
   * now, and the certified key's signature over exactly the keys (and graph contribution) this client was
   * given for it; no two neighbours — nor a neighbour and this client — hold one subject or identity key.
   * A coordinator that substitutes a neighbour's keys, or invents a neighbour, fails here.
   */
  private async checkNeighbourIdentities(msg: NeighbourKeysMsg): Promise<void> {
    const pki = this.pki!;
    const now = (pki.now ?? Date.now)();
    const contributions = new Map(msg.advertisers.map((a) => [a.id, a.contribution]));
    const own = pki.identity.certificate;
    const bySubject = new Map<string, number>([[own.subject, this.id]]);
    const byKey = new Map<string, number>([[toHex(own.publicKey), this.id]]);
    for (const k of msg.keys) {
      let subject: string;
      let identityKey: Uint8Array;
      try {
        ({ subject, publicKey: identityKey } = await verifyIdentityProof(
          k.identity,
          pki.authorityKey,
          now,
          this.config.roundId,
          { id: k.id, encryptionKey: k.encryptionKey, maskingKey: k.maskingKey, signingKey: k.signingKey, graphContribution: contributions.get(k.id)! },
          this.suite,
        ));
      } catch (e) {
        if (e instanceof SecAggError) this.violation(`neighbour ${k.id} fails the PKI check: ${e.message}`);
        throw e;
      }
      const sameSubject = bySubject.get(subject);
      if (sameSubject !== undefined)
        this.violation(
          `neighbour ${k.id} presents the identity ${subject}, as does ${sameSubject === this.id ? 'this client itself' : `neighbour ${sameSubject}`}`,
        );
      const hex = toHex(identityKey);
      const sameKey = byKey.get(hex);
      if (sameKey !== undefined)
        this.violation(`neighbour ${k.id} presents the identity key of ${sameKey === this.id ? 'this client itself' : `neighbour ${sameKey}`}`);
      bySubject.set(subject, k.id);
      byKey.set(hex, k.id);
    }
  }

  /** Stage 1 (ShareKeys): share b_u and s_u^SK with every neighbour in the opened graph. */
  private async onNeighbourKeys(msg: NeighbourKeysMsg): Promise<ClientStep> {
    await this.openGraph(msg);
    if (!Array.isArray(msg.keys)) this.violation('neighbour keys are not a list');
    this.checkIdList(
      msg.keys.map((k) => k?.id),
      'the neighbour key list',
      (id) => this.neighbours.has(id),
    );
    // Every neighbour in the graph over U1 advertised: a missing key is the coordinator's doing.
    if (msg.keys.length !== this.neighbours.size) this.violation(`got the keys of ${msg.keys.length} of its ${this.neighbours.size} neighbours`);
    for (const k of msg.keys) {
      for (const key of [k.encryptionKey, k.maskingKey, k.signingKey]) {
        if (!(key instanceof Uint8Array) || key.length !== 32) this.violation(`client ${k.id}'s advertised key is not 32 bytes`);
      }
      if (isSmallOrderX25519(k.encryptionKey) || isSmallOrderX25519(k.maskingKey) || isSmallOrderEd25519(k.signingKey))
        this.violation(`client ${k.id}'s advertised key has small order`);
      this.neighbourKeys.set(k.id, k);
    }
    if (this.pki) await this.checkNeighbourIdentities(msg);
    const t = this.config.threshold;
    if (msg.keys.length < t) {
      throw new SecAggError('too-few-neighbours', `client ${this.id} has ${msg.keys.length} live neighbours, fewer than the threshold t=${t}`, this.id);
    }
    const holders = [...this.neighbourKeys.keys()].sort((a, b) => a - b);
    const selfMaskSeed = globalThis.crypto.getRandomValues(new Uint8Array(32));
    const selfShares = splitSecret(selfMaskSeed, holders, t);
    const keyShares = splitSecret(this.masking!.privateKey, holders, t);
    const shares = await Promise.all(
      holders.map(async (v) => {
        const nk = this.neighbourKeys.get(v)!;
        const key = await shareBoxKey(this.suite, this.config.roundId, this.id, this.encryption!.privateKey, v, nk.encryptionKey);
        this.boxKeys.set(v, key);
        this.pairSeeds.set(v, await pairwiseSeed(this.suite, this.config.roundId, this.id, this.masking!.privateKey, v, nk.maskingKey));
        return { to: v, ciphertext: await sealShareBox(key, this.config.roundId, this.id, v, selfShares.get(v)!, keyShares.get(v)!) };
      }),
    );
    this.selfMaskSeed = selfMaskSeed;
    this.stateValue = 'shared';
    return {
      warnings: [],
      outgoing: { type: 'share-keys', roundId: this.config.roundId, from: this.id, selfMaskCommitment: sha256(selfMaskSeed), shares },
    };
  }

  private selfMaskSeed?: Uint8Array;

  /** Stage 2 (MaskedInputCollection): keep the shares addressed to us, send y_u. */
  private async onSharesForYou(msg: SharesForYouMsg): Promise<ClientStep> {
    if (!Array.isArray(msg.shares)) this.violation('the share list is not a list');
    this.checkIdList(
      msg.shares.map((s) => s?.from),
      'the share list',
      (id) => this.neighbourKeys.has(id),
    );
    const t = this.config.threshold;
    if (msg.shares.length < t) {
      throw new SecAggError('too-few-neighbours', `client ${this.id} received shares from ${msg.shares.length} neighbours, fewer than t=${t}`, this.id);
    }
    const warnings: SecAggError[] = [];
    const unopened: number[] = [];
    await Promise.all(
      msg.shares.map(async ({ from, ciphertext }) => {
        this.sharers.add(from);
        try {
          this.held.set(from, await openShareBox(this.boxKeys.get(from)!, this.config.roundId, from, this.id, ciphertext));
        } catch (e) {
          // The pairwise mask with `from` is still applied (its key is public), so the sum stays right; we just
          // cannot help recover `from`. Other neighbours hold its shares, and the server is told (masked-input).
          if (!(e instanceof SecAggError)) throw e;
          warnings.push(e);
          unopened.push(from);
        }
      }),
    );
    const { bits, roundId } = this.config;
    const masked = this.input.slice();
    const selfSeed = this.selfMaskSeed!;
    await runLimited(
      [() => applyMask(masked, selfSeed, 1, bits), ...[...this.sharers].map((v) => () => applyPairwiseMask(masked, this.pairSeeds.get(v)!, this.id, v, bits))],
      EXPANSION_CONCURRENCY,
    );
    this.selfMaskSeed = undefined;
    this.pairSeeds.clear();
    this.stateValue = 'masked';
    const report = unopened.length > 0 ? { unopenedShareBoxes: unopened.sort((a, b) => a - b) } : {};
    return { warnings, outgoing: { type: 'masked-input', roundId, from: this.id, bits: this.config.bits, masked, ...report } };
  }

  /** Stage 3 (ConsistencyCheck): sign the survivor set U3 the server announced. */
  private async onSurvivors(msg: SurvivorsMsg): Promise<ClientStep> {
    const u1 = this.graph!.advertisers;
    const survivors = this.checkIdList(msg.survivors, 'the survivor list', (id) => u1.has(id));
    if (!survivors.includes(this.id)) this.violation('the survivor list omits this client, whose masked input was sent');
    for (const id of survivors) {
      if (this.neighbours.has(id) && !this.sharers.has(id)) this.violation(`client ${id} is listed as a survivor but never shared its keys with this client`);
    }
    this.survivors = new Set(survivors);
    const live = survivors.filter((id) => this.neighbours.has(id)).length;
    if (live < this.config.threshold) {
      throw new SecAggError('too-few-neighbours', `client ${this.id} has ${live} surviving neighbours, fewer than t=${this.config.threshold}`, this.id);
    }
    const signature = await this.suite.ed25519Sign(this.signing!.privateKey, consistencyMessage(this.config.roundId, this.graph!.seed, survivors));
    this.stateValue = 'signed';
    return { warnings: [], outgoing: { type: 'consistency-signature', roundId: this.config.roundId, from: this.id, signature } };
  }

  /** Stage 4 (Unmasking): check the neighbours' signatures, then reveal exactly one share per neighbour. */
  private async onUnmaskRequest(msg: UnmaskRequestMsg): Promise<ClientStep> {
    const survivors = this.survivors!;
    if (!Array.isArray(msg.signatures)) this.violation('the signature list is not a list');
    this.checkIdList(
      msg.signatures.map((s) => s?.id),
      'the signature list',
      (id) => this.neighbours.has(id) && survivors.has(id),
    );
    const message = consistencyMessage(this.config.roundId, this.graph!.seed, [...survivors]);
    const valid = await Promise.all(
      msg.signatures.map((s) => s.signature instanceof Uint8Array && this.suite.ed25519Verify(this.neighbourKeys.get(s.id)!.signingKey, message, s.signature)),
    );
    const bad = msg.signatures.filter((_, i) => !valid[i]).map((s) => s.id);
    if (bad.length)
      throw new SecAggError(
        'bad-signature',
        `client ${this.id} aborts: the consistency signatures of ${bad.join(', ')} do not verify on its survivor set`,
        this.id,
      );
    if (msg.signatures.length < this.config.threshold) {
      throw new SecAggError(
        'too-few-neighbours',
        `client ${this.id} saw ${msg.signatures.length} neighbour signatures, fewer than t=${this.config.threshold}`,
        this.id,
      );
    }
    const selfOf = this.checkIdList(msg.revealSelfMaskOf, 'the self-mask request', (id) => this.sharers.has(id));
    const keyOf = this.checkIdList(msg.revealMaskKeyOf, 'the mask-key request', (id) => this.sharers.has(id));
    const both = selfOf.filter((id) => keyOf.includes(id));
    if (both.length) this.violation(`the server asked for both the self-mask and the mask-key shares of client ${both.join(', ')}`);
    for (const id of selfOf) if (!survivors.has(id)) this.violation(`the server asked for the self-mask share of client ${id}, which it said dropped`);
    for (const id of keyOf) if (survivors.has(id)) this.violation(`the server asked for the mask-key share of client ${id}, which it said survived`);
    const selfMaskShares = selfOf.filter((id) => this.held.has(id)).map((id) => ({ of: id, share: encodeShare(this.held.get(id)!.selfMaskShare) }));
    const maskKeyShares = keyOf.filter((id) => this.held.has(id)).map((id) => ({ of: id, share: encodeShare(this.held.get(id)!.maskKeyShare) }));
    this.stateValue = 'done';
    this.held.clear();
    this.masking = this.encryption = this.signing = undefined;
    return { warnings: [], outgoing: { type: 'unmask-shares', roundId: this.config.roundId, from: this.id, selfMaskShares, maskKeyShares } };
  }
}
