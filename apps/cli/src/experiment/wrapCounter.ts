/**
 * Counts the modular wraps of a round's aggregate: each party's encoded input is small next to 2^B, so its
 * centred value is its integer vector; their float64 sum (exact: n·2^31 < 2^53) is the aggregate before the
 * reduction mod 2^B, and a coordinate outside [−2^(B−1), 2^(B−1)) is one the decoded sum gets wrong by 2^B.
 */
export class WrapCounter {
  private readonly sums = new Map<string, Float64Array>();
  constructor(private readonly bits: number) {}

  add(roundId: string, input: Uint32Array): void {
    let acc = this.sums.get(roundId);
    if (!acc) {
      acc = new Float64Array(input.length);
      this.sums.set(roundId, acc);
    }
    const m = 2 ** this.bits;
    const half = m / 2;
    for (let i = 0; i < input.length; i++) {
      const v = input[i]!;
      acc[i]! += v >= half ? v - m : v;
    }
  }

  perRound(): number[] {
    const half = 2 ** (this.bits - 1);
    return [...this.sums.values()].map((acc) => {
      let wraps = 0;
      for (let i = 0; i < acc.length; i++) if (acc[i]! >= half || acc[i]! < -half) wraps++;
      return wraps;
    });
  }
}
