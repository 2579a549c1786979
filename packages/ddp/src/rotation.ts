/**
 * The random rotation of DDG (Kairouz et al. 2021, §4.2, "flattening"): x ↦ H·D·x with D = diag(±1)
 * Rademacher signs and H the orthonormal Walsh–Hadamard matrix. The signs come from the ChaCha20 keystream
 * under the 32-byte round seed, one bit per coordinate, so every client and the server derive the same D in
 * any runtime. The inverse is D·H (both factors are self-inverse).
 */
import { fwhtInPlace, fwhtUnscaledInPlace, isPowerOfTwo } from './hadamard.ts';
import { chachaRandomWords } from './random.ts';

/** Multiplies x by the seed's Rademacher signs in place: bit i of the keystream set ⇒ coordinate i negated. */
export function applyRademacherSigns(x: Float64Array, seed: Uint8Array): void {
  const words = chachaRandomWords(seed);
  const n = x.length;
  for (let base = 0; base < n; base += 32) {
    let w = words.next();
    const end = Math.min(n, base + 32);
    // Branch-free: the sign bits are coin flips, which a branch would mispredict half the time.
    for (let i = base; i < end; i++) {
      x[i]! *= 1 - 2 * (w & 1);
      w >>>= 1;
    }
  }
}

/** x ← H·D·x in place (x already padded to a power of two). */
export function rotateInPlace(x: Float64Array, seed: Uint8Array): void {
  if (!isPowerOfTwo(x.length)) throw new RangeError(`rotation needs a power-of-two length, got ${x.length}`);
  applyRademacherSigns(x, seed);
  fwhtInPlace(x);
}

/** √n·H·D·x: rotateInPlace without its 1/√n, for a caller that has scaled x by it already (one pass fewer). */
export function rotateUnscaledInPlace(x: Float64Array, seed: Uint8Array): void {
  if (!isPowerOfTwo(x.length)) throw new RangeError(`rotation needs a power-of-two length, got ${x.length}`);
  applyRademacherSigns(x, seed);
  fwhtUnscaledInPlace(x);
}

/** x ← D·H·x in place: the inverse of rotateInPlace under the same seed. */
export function unrotateInPlace(x: Float64Array, seed: Uint8Array): void {
  if (!isPowerOfTwo(x.length)) throw new RangeError(`rotation needs a power-of-two length, got ${x.length}`);
  fwhtInPlace(x);
  applyRademacherSigns(x, seed);
}
