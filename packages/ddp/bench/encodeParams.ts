/** The encode the ddp bench times at d coordinates: grid noise σ/γ = 1000, as a 16-bit calibration for tens of clients gives. */
export function encodeBenchParams(d: number) {
  return { dim: d, clip: 1, gamma: 1e-3, beta: Math.exp(-0.5), bits: 16, localStddev: 1 };
}
