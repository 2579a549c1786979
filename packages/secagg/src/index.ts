/**
 * @hushfl/secagg — SecAgg+ (Bonawitz et al. CCS 2017 with the neighbour graph of Bell et al. CCS 2020):
 * client and server as pure state machines over WebCrypto, with dropout recovery at every stage.
 */
export { SecAggError, type SecAggErrorCode } from './errors.ts';
export * from './messages.ts';
export { SecAggClient, type ClientStep, type SecAggClientOptions, type SecAggClientState, type SecAggClientSnapshot } from './client.ts';
export {
  SecAggServer,
  type Misbehaviour,
  type SecAggResult,
  type ServerStep,
  type SecAggServerOptions,
  type SecAggServerState,
  type SecAggServerSnapshot,
} from './server.ts';
export {
  CERTIFICATE_SUBJECT,
  MAX_SUBJECT_LENGTH,
  certificateMessage,
  roundKeysMessage,
  issueCertificate,
  verifyCertificate,
  signRoundKeys,
  verifyRoundKeys,
  verifyIdentityProof,
  checkOwnIdentity,
  certificateToJson,
  certificateFromJson,
  identityFromJson,
  identityFileOf,
  fromHex,
  type Certificate,
  type CertificateFields,
  type CertificateJson,
  type IdentityProof,
  type IdentityFileJson,
  type PkiClientOptions,
  type RoundKeys,
} from './identity.ts';
export { toHex } from './hex.ts';
export {
  chooseSecAggParams,
  checkSecAggParamsMeet,
  describeSecAggGuarantee,
  secaggGuaranteeOf,
  validateSecAggParams,
  log2BinomialTailAtLeast,
  type SecAggParams,
  type SecAggParamOptions,
  type SecAggRequirement,
  type SecAggGuarantee,
} from './params.ts';
export { neighbourGraph, seededPermutation, type NeighbourGraph } from './graph.ts';
export { graphCommitment, graphSeedOf, freshGraphRandomness, type GraphContribution } from './graphSeed.ts';
export { splitSecret, reconstructSecret, encodeShare, decodeShare, SHARE_BYTES, type ShamirShare } from './shamir.ts';
export { decodeShares, type ShareDecoding } from './reedSolomon.ts';
export { FIELD_PRIME } from './field.ts';
export { inProcessMasks, maskSlice, type MaskApplier, type MaskTerm } from './masks.ts';
export { expandMask, expandWords, expandWordsAt, hkdfSha256, aesCtrKeystream, aesGcmSeal, aesGcmOpen, sha256 } from './symmetric.ts';
export { defaultSuite, webCryptoSuite, nobleSuite, type CryptoSuite, type KeyPair } from './suite.ts';
export { addInPlace, subInPlace, checkRingVector, ringMask, wordsAsBytes, bytesAsWords } from './vector.ts';
export { packedLength, packWords, unpackWords } from './bitPacking.ts';
export { isSmallOrderEd25519, isSmallOrderX25519 } from './smallOrder.ts';
export {
  SECAGG_STAGE_TABLE,
  SECAGG_STAGES,
  STAGE_MESSAGE,
  DROP_POINTS,
  stageSpec,
  stageCollecting,
  stageOpenedBy,
  lastMessageBefore,
  type SecAggStageSpec,
  type StageDeadline,
  type DropPoint,
} from './stages.ts';
export { simulateSecAggRound, type SimulationOptions, type SimulationResult, type StageTiming } from './simulate.ts';
export { SHARE_BOX_BYTES } from './shareBox.ts';
