/**
 * Server-side DDG decoding (Kairouz et al. 2021, Algorithm 1 "server procedure"): the modular sum of the
 * contributors' encodings is centred into [−2^(B−1), 2^(B−1)), scaled by γ, un-rotated with the round's
 * seed, un-padded and divided by the number of contributors (the unweighted mean the analysis assumes).
 */
import { DdpParameterError } from './errors.ts';
import { validateDdgParams, type DdgParams } from './params.ts';
import { unrotateInPlace } from './rotation.ts';

export function decodeDdg(sum: Uint32Array, params: DdgParams, rotationSeed: Uint8Array, contributors: number): Float64Array {
  const padded = validateDdgParams(params);
  if (sum.length !== padded) throw new DdpParameterError('sum', `sum has ${sum.length} values, expected the padded ${padded}`);
  if (!Number.isInteger(contributors) || contributors < 1) {
    throw new DdpParameterError('contributors', `contributors must be a positive integer, got ${contributors}`);
  }
  const m = 2 ** params.bits;
  const half = m / 2;
  const x = new Float64Array(padded);
  for (let i = 0; i < padded; i++) {
    const u = sum[i]!;
    x[i] = (u >= half ? u - m : u) * params.gamma;
  }
  unrotateInPlace(x, rotationSeed);
  const mean = new Float64Array(params.dim);
  const inv = 1 / contributors;
  for (let i = 0; i < params.dim; i++) mean[i] = x[i]! * inv;
  return mean;
}
