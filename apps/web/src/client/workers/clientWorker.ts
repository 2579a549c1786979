/**
 * The client Worker's logic, separate from the Worker glue so tests can drive it: packages/client's runtime
 * (DDG encoding of each mini-client's update, their sum in Z_{2^B}, the SecAgg client) with training delegated
 * to the training Worker, and the round state persisted to IndexedDB after every SecAgg step.
 */
import { ClientRuntime } from '@hushfl/client/runtime';
import type { Trainer } from '@hushfl/client';
import { EnvelopeError, pack, roundEndSchema, secaggClientToWire, secaggEnvelopeFromServer, taskMessageSchema, unpack } from '@hushfl/protocol';
import type { store as Store } from '../store.ts';
import type { FromClientWorker } from './messages.ts';

type Packed = { json: string; bin: ArrayBuffer | Uint8Array };

export class ClientWorkerLogic {
  private runtime: ClientRuntime | null = null;

  constructor(
    private readonly post: (m: FromClientWorker, transfer?: Transferable[]) => void,
    private readonly db: typeof Store,
  ) {}

  async init(trainer: Trainer): Promise<void> {
    this.runtime = new ClientRuntime(trainer, {
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
    });
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
