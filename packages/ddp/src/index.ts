/**
 * @hushfl/ddp — the distributed discrete Gaussian mechanism (Kairouz, Liu & Steinke, ICML 2021) with the
 * exact discrete Gaussian sampler of Canonne, Kamath & Steinke (2020) and the RDP accountants.
 * Pure TypeScript: runs unchanged in Node, browsers and Web Workers.
 */
export { RandomWords, cryptoRandomWords, chachaRandomWords, randomSeed, shuffleInPlace } from './random.ts';
export { type Rational, rational, rationalAtLeast, parseRational, rationalToNumber, formatRational } from './rational.ts';
export {
  DiscreteGaussianSampler,
  bernoulliExpNeg,
  bernoulliExpNegBig,
  bernoulliExpMinusOne,
  uniformBelow,
  uniformBelowBig,
} from './discreteGaussian.ts';
export { MAX_DIM, fwhtInPlace, isPowerOfTwo, nextPowerOfTwo } from './hadamard.ts';
export { applyRademacherSigns, rotateInPlace, unrotateInPlace } from './rotation.ts';
export { inflatedL2Bound, l1BoundFromL2, conditionalRoundInto } from './rounding.ts';
export { type DdgParams, validateDdgParams, checkBits, checkBeta } from './params.ts';
export { clipFactor, encodeDdg, gridNoiseVariance, l2Norm, type DdgEncoding, type EncodeOptions } from './encode.ts';
export { decodeDdg } from './decode.ts';
export {
  addClipCountInto,
  checkClipCountRange,
  MAX_COUNT_SCALE,
  checkClipCountParams,
  clipToAdaptive,
  clipCountGrid,
  COUNT_GRID_STDDEV,
  countStddevFor,
  clipCountFraction,
  clipCountNoiseVariance,
  decodeClipCount,
  defaultCountStddev,
  encodeClipCount,
  type ClipCountParams,
} from './clipCount.ts';
export {
  FEDERATED_METRICS,
  METRIC_NAMES,
  NORM_MARGIN,
  appendFederatedMetrics,
  checkMetricBounds,
  federatedTotals,
  metricNormBound,
  metricUnitsPerCoordinate,
  metricVector,
  modelUpdateClip,
  updateClip,
  type FederatedSums,
  type MetricBounds,
  type MetricSums,
} from './federatedMetrics.ts';
export { DdpParameterError, RoundingBoundError } from './errors.ts';
export {
  RDP_ORDERS,
  rdpToEpsilon,
  subsampledRdp,
  logSumExp,
  logBinomial,
  type PrivacyLoss,
  type PrivacySpent,
} from './accountant/rdp.ts';
export {
  MIN_GRID_STDDEV,
  accountClipCount,
  checkCountScale,
  accountDdg,
  checkCountStddev,
  checkGridStddev,
  clipCountRdp,
  ddgRoundRdp,
  ddgTau,
  type ClipCountAccounting,
  type DdgRoundAccounting,
  type DdgRoundRdp,
  type DdgAccountResult,
} from './accountant/ddg.ts';
export { accountDpsgd, dpsgdStepRdp, sampledGaussianRdp } from './accountant/dpsgd.ts';
export { RdpLedger } from './accountant/ledger.ts';
export {
  CLIP_COUNT_MAX_SHARE,
  calibrateDdg,
  defaultClipCountNoise,
  quantizationGamma,
  DEFAULT_BETA,
  DEFAULT_K_STDDEVS,
  type DdgCalibration,
  type DdgCalibrationInput,
} from './calibrate.ts';
