/**
 * The orthonormal fast Walsh–Hadamard transform, in place on a Float64Array of power-of-two length.
 * H/√d is symmetric and orthogonal, so the transform is its own inverse (Kairouz et al. 2021, §4.2 use it
 * with random signs to flatten a vector before quantization).
 */
/** The largest (padded) dimension: 2^30 keeps every index and bit trick within 32-bit integers. */
export const MAX_DIM = 2 ** 30;

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0 && n <= MAX_DIM;
}

export function nextPowerOfTwo(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`dimension must be a positive integer, got ${n}`);
  if (n > MAX_DIM) throw new RangeError(`dimension ${n} is too large (at most 2^30)`);
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** x ← (H/√d)·x in place, d = x.length a power of two. */
export function fwhtInPlace(x: Float64Array): void {
  fwhtUnscaledInPlace(x);
  const scale = 1 / Math.sqrt(x.length);
  for (let i = 0; i < x.length; i++) x[i]! *= scale;
}

/** H·x without the 1/√n: for a caller that folds the scale into a pass of its own (the encoder's clip). */
export function fwhtUnscaledInPlace(x: Float64Array): void {
  const n = x.length;
  if (!isPowerOfTwo(n)) throw new RangeError(`FWHT length must be a power of two, got ${n}`);
  // Radix-4 passes (two butterfly levels per sweep) halve the memory traffic of the radix-2 form.
  let h = 1;
  for (; h * 4 <= n; h *= 4) {
    const h2 = h * 2;
    const h3 = h * 3;
    const step = h * 4;
    for (let i = 0; i < n; i += step) {
      for (let j = i; j < i + h; j++) {
        const a = x[j]!;
        const b = x[j + h]!;
        const c = x[j + h2]!;
        const d = x[j + h3]!;
        const s0 = a + b;
        const d0 = a - b;
        const s1 = c + d;
        const d1 = c - d;
        x[j] = s0 + s1;
        x[j + h] = d0 + d1;
        x[j + h2] = s0 - s1;
        x[j + h3] = d0 - d1;
      }
    }
  }
  if (h < n) {
    for (let j = 0; j < h; j++) {
      const a = x[j]!;
      const b = x[j + h]!;
      x[j] = a + b;
      x[j + h] = a - b;
    }
  }
}
