/**
 * Exact positive rationals for the noise variance σ². The sampler works on σ² = num/den exactly
 * (the exponent x²/(2σ²) of every acceptance test is then an exact rational).
 *
 * Turning a double into a rational (`rationalAtLeast`): every finite double is a dyadic rational, but its
 * exact denominator can be 2^1074, which would push the sampler onto slow BigInt arithmetic. We instead
 * round **up** to den = 2^j, num = ceil(x·2^j), taking the largest j with x·2^j <= 2^22. The variance
 * grows by a relative 2^-21 at most (x·2^j > 2^21 whenever j > 0) and never shrinks, so the noise actually
 * added is at least the noise the accountant was told about: privacy is never overstated.
 */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** num/den in lowest terms; den > 0 and num > 0 are required. */
export function rational(num: bigint, den: bigint): Rational {
  if (den <= 0n) throw new RangeError('rational: denominator must be positive');
  if (num <= 0n) throw new RangeError('rational: value must be positive');
  const g = gcd(num, den);
  return { num: num / g, den: den / g };
}

const TARGET_SCALE = 2 ** 22;

/** The smallest rational num/2^j >= x with x·2^j <= 2^22 (or j = 0 when x > 2^22): see the module comment. */
export function rationalAtLeast(x: number): Rational {
  if (!Number.isFinite(x) || x <= 0) throw new RangeError(`expected a positive finite number, got ${x}`);
  let j = 0;
  let scaled = x;
  // Multiplying by 2 is exact for doubles, so `scaled` is exactly x·2^j.
  while (scaled * 2 <= TARGET_SCALE && j < 1074) {
    scaled *= 2;
    j++;
  }
  const num = BigInt(Math.ceil(scaled)); // scaled <= 2^22 or x itself is an integer-valued double above 2^22
  return rational(num, 1n << BigInt(j));
}

/** Parses "P/Q" or an integer "P" (decimal digits) into a reduced rational. */
export function parseRational(text: string): Rational {
  const m = /^\s*(\d+)\s*(?:\/\s*(\d+))?\s*$/.exec(text);
  if (!m) throw new RangeError(`"${text}" is not a rational P/Q or integer P`);
  const num = BigInt(m[1]!);
  const den = m[2] === undefined ? 1n : BigInt(m[2]);
  if (den === 0n) throw new RangeError(`"${text}": denominator must be positive`);
  if (num === 0n) throw new RangeError(`"${text}": value must be positive`);
  return rational(num, den);
}

export function rationalToNumber(r: Rational): number {
  return Number(r.num) / Number(r.den);
}

export function formatRational(r: Rational): string {
  return r.den === 1n ? r.num.toString() : `${r.num}/${r.den}`;
}
