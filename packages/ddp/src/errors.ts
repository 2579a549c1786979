/** Typed errors of packages/ddp, so callers can tell bad parameters from mechanism failures. */
export class DdpParameterError extends RangeError {
  override readonly name = 'DdpParameterError';
  constructor(
    /** The parameter at fault, named as in DdgParams or the CLI flag without dashes. */
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

/** Conditional randomized rounding could not meet its norm bound within the allowed number of draws. */
export class RoundingBoundError extends Error {
  override readonly name = 'RoundingBoundError';
}
