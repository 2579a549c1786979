/**
 * The client Worker's logic, separate from the Worker glue so tests can drive it: packages/client's runtime
 * (DDG encoding of each mini-client's update, their sum in Z_{2^B}, the SecAgg client) with training delegated
 * to the training Worker, and the round state persisted to IndexedDB after every SecAgg step.
 */
import { ClientRuntime } from '@hushfl/client/runtime';
import type { Trainer } from '@hushfl/client';
import { EnvelopeError, pack, roundEndSchema, secaggClientToWire, secaggEnvelopeFromServer, taskMessageSchema, unpack } from '@hushfl/protocol';
import { checkOwnIdentity, fromHex, identityFromJson, type IdentityFileJson, type PkiClientOptions } from '@hushfl/secagg';
import type { store as Store } from '../store.ts';
import type { FromClientWorker } from './messages.ts';

type Packed = { json: string; bin: ArrayBuffer | Uint8Array };

export class ClientWorkerLogic {
  private runtime: ClientRuntime | null = null;

  constructor(
    private readonly post: (m: FromClientWorker, transfer?: Transferable[]) => void,
    private readonly db: typeof Store,
  ) {}

  /**
   * PKI mode from an identity file: the authority key comes from the file the user imported (from the
   * authority, out of band), never from the coordinator; the identity is checked (certificate, key pair, expiry).
   */
  private static async pkiOf(file: IdentityFileJson): Promise<PkiClientOptions> {
    const identity = identityFromJson(file); // first: is it an identity file at all
    const pki = { authorityKey: fromHex(file.authorityKey, 32, 'authorityKey'), identity };
    await checkOwnIdentity(pki, Date.now());
    return pki;
  }

  private static info(file: IdentityFileJson, active: boolean) {
    return { subject: file.certificate.subject, authorityKey: file.authorityKey, notAfter: file.certificate.notAfter, active };
  }

  /** Stores an identity file for PKI mode after checking it; the page uses it from its next load. */
  async importIdentity(text: string): Promise<void> {
    let file: IdentityFileJson;
    try {
      file = JSON.parse(text) as IdentityFileJson;
      await ClientWorkerLogic.pkiOf(file);
    } catch (e) {
      this.post({ type: 'error', message: `not a usable identity file: ${(e as Error).message}` });
      return;
    }
    await this.db.setPkiIdentity(file);
    this.post({ type: 'identity', identity: ClientWorkerLogic.info(file, false) });
  }

  async init(trainer: Trainer): Promise<void> {
    const file = await this.db.pkiIdentity();
    let pki: PkiClientOptions | undefined;
    if (file) {
      try {
        pki = await ClientWorkerLogic.pkiOf(file);
      } catch (e) {
        // An expired or broken identity: refuse to take part rather than fall back to no PKI silently.
        // No runtime: tasks are ignored (the coordinator counts this tab as dropped) until the identity is replaced.
        this.post({ type: 'error', message: `the stored identity cannot be used (${(e as Error).message}): import a new one or Forget me` });
        this.post({ type: 'ready', resumedRound: null });
        return;
      }
    }
    this.runtime = new ClientRuntime(
      trainer,
      {
        sendSecAgg: (roundId, message) => {
          const p = pack({ roundId, message: secaggClientToWire(message) });
          const bin = p.bin.buffer as ArrayBuffer;
          this.post({ type: 'secagg', packed: { json: p.json, bin } }, [bin]);
        },
        report: (report) => this.post({ type: 'report', report }),
        persistRound: (r) => this.db.setRound(r),
        persistDpsgdLedgers: (l) => this.db.setDpsgdLedgers(l),
        persistMetrics: async (m) => {
          await this.db.setMetrics(m);
          this.post({ type: 'metrics', metrics: m });
        },
      },
      pki ? { pki } : {},
    );
    if (file) this.post({ type: 'identity', identity: ClientWorkerLogic.info(file, true) });
    const metrics = await this.db.metrics();
    if (metrics) this.runtime.restoreMetrics(metrics);
    // After the metrics (their δ): ε continues from every round trained before the reload.
    this.runtime.restoreDpsgdLedgers(await this.db.dpsgdLedgers());
    const round = await this.db.round();
    if (round) await this.runtime.resume(round);
    this.post({ type: 'ready', resumedRound: round?.task.roundId ?? null });
    this.post({ type: 'metrics', metrics: this.runtime.metrics });
  }

  private parse<T>(packed: Packed, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: Error } }): T | null {
    let raw: unknown;
    try {
      raw = unpack(packed);
    } catch (e) {
      this.post({ type: 'error', message: e instanceof EnvelopeError ? e.message : 'malformed message' });
      return null;
    }
    const r = schema.safeParse(raw);
    if (!r.success) {
      this.post({ type: 'error', message: `invalid message from the coordinator: ${r.error.message.slice(0, 300)}` });
      return null;
    }
    return r.data;
  }

  async onTask(packed: Packed): Promise<void> {
    const task = this.parse(packed, taskMessageSchema);
    if (!task || !this.runtime) return;
    await this.db.setModel({ roundId: task.roundId, round: task.round, weights: task.model.weights.slice() });
    await this.runtime.onTask(task);
  }

  async onSecAgg(packed: Packed): Promise<void> {
    const env = this.parse(packed, secaggEnvelopeFromServer);
    if (env && this.runtime) await this.runtime.onSecAgg(env.roundId, env.message);
  }

  onRoundEnd(payload: unknown): void {
    const r = roundEndSchema.safeParse(payload);
    if (r.success) this.runtime?.onRoundEnd(r.data);
  }
}
