/** The shape of one CLI command: declared flags and a run that returns JSON and text renderings. */
import type { FlagSpecs, ParsedFlags } from './args.ts';
import type { CliIO } from './io.ts';

export interface CommandResult {
  readonly json: unknown;
  readonly text: string;
  /** Exit code (default 0). */
  readonly code?: number;
  /** The command already wrote its output. */
  readonly silent?: boolean;
}

export interface Command<S extends FlagSpecs = FlagSpecs> {
  /** The words that select it, e.g. "account ddg". */
  readonly name: string;
  readonly summary: string;
  readonly flags: S;
  run(flags: ParsedFlags<S>, io: CliIO): CommandResult | Promise<CommandResult>;
}
