/**
 * A privacy ledger: the running sum of per-round RDP vectors (composition is additive in RDP), so rounds
 * with different contributor counts or parameters compose exactly, and ε can be read at any δ.
 */
import { RDP_ORDERS, rdpToEpsilon, type PrivacySpent } from './rdp.ts';

export class RdpLedger {
  private readonly total: Float64Array;
  private count = 0;

  constructor(initial?: ArrayLike<number>, rounds = 0) {
    this.total = new Float64Array(RDP_ORDERS.length);
    if (initial) {
      if (initial.length !== RDP_ORDERS.length) throw new RangeError('ledger state has the wrong number of orders');
      this.total.set(initial);
      this.count = rounds;
    }
  }

  /** Adds one round's RDP vector (aligned with RDP_ORDERS). */
  add(roundRdp: ArrayLike<number>): void {
    if (roundRdp.length !== RDP_ORDERS.length) throw new RangeError('round RDP has the wrong number of orders');
    for (let i = 0; i < this.total.length; i++) this.total[i]! += roundRdp[i]!;
    this.count++;
  }

  get rounds(): number {
    return this.count;
  }

  /** A copy of the cumulative RDP vector, for persistence. */
  rdp(): number[] {
    return Array.from(this.total);
  }

  spent(delta: number): PrivacySpent {
    return rdpToEpsilon(this.total, delta);
  }

  /** ε after adding `roundRdp`, without adding it: lets a coordinator refuse a round that would overspend. */
  spentIfAdded(roundRdp: ArrayLike<number>, delta: number): PrivacySpent {
    const next = Float64Array.from(this.total, (v, i) => v + roundRdp[i]!);
    return rdpToEpsilon(next, delta);
  }
}
