/**
 * Small statistics helpers for the tests (not exported from the package): chi-square goodness of fit
 * against an exact pmf, and its critical value by the Wilson–Hilferty approximation.
 */

/** Upper critical value of χ²(df) for a standard-normal quantile z (z = 5 ⇒ p ≈ 3e-7). */
export function chiSquareCritical(df: number, z = 5): number {
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

/**
 * Groups the integers into bins of at least `minExpected` expected counts (tails merged) and returns the
 * χ² statistic and degrees of freedom. `pmf(y)` must be normalised over the integers in [lo, hi]; mass outside
 * lands in the end bins.
 */
export function chiSquareAgainstPmf(
  counts: Map<number, number>,
  total: number,
  pmf: (y: number) => number,
  lo: number,
  hi: number,
  minExpected = 20,
): { stat: number; df: number } {
  const bins: { expected: number; observed: number }[] = [];
  let exp = 0;
  let obs = 0;
  for (const [y, c] of counts) if (y < lo) obs += c;
  for (let y = lo; y <= hi; y++) {
    exp += pmf(y) * total;
    obs += counts.get(y) ?? 0;
    if (exp >= minExpected) {
      bins.push({ expected: exp, observed: obs });
      exp = 0;
      obs = 0;
    }
  }
  for (const [y, c] of counts) if (y > hi) obs += c;
  if (bins.length === 0) throw new Error('no bins');
  bins[bins.length - 1]!.expected += exp;
  bins[bins.length - 1]!.observed += obs;
  let stat = 0;
  for (const b of bins) stat += (b.observed - b.expected) ** 2 / b.expected;
  return { stat, df: bins.length - 1 };
}

/** The exact pmf of N_Z(0, σ²), normalised over |y| <= limit (the tail beyond is below double precision). */
export function discreteGaussianPmf(sigma2: number): { pmf: (y: number) => number; limit: number; variance: number } {
  const limit = Math.ceil(40 * Math.sqrt(sigma2)) + 40;
  let z = 0;
  let second = 0;
  for (let y = -limit; y <= limit; y++) {
    const w = Math.exp((-y * y) / (2 * sigma2));
    z += w;
    second += w * y * y;
  }
  return { pmf: (y: number) => Math.exp((-y * y) / (2 * sigma2)) / z, limit, variance: second / z };
}

export function histogram(values: Iterable<number>): Map<number, number> {
  const m = new Map<number, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}
