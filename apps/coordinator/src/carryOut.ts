/**
 * How the shell carries out one run-engine step: its commands in order. A persist that fails stops every
 * later send and release of the step — the write-ahead charge may be what failed, and nothing that follows it
 * may go out — while timers, logs, notices and the evaluation still run, so the engine is never left waiting
 * on something the shell dropped. The caller tells the engine (a 'store-failed' event), which aborts the attempt.
 */
import type { RunCommand } from '@hushfl/engine';

export function carryOut(commands: readonly RunCommand[], execute: (c: RunCommand) => void, onStoreError: (op: string, e: Error) => void): Error | null {
  let storeError: Error | null = null;
  for (const c of commands) {
    if (storeError && (c.kind === 'send' || c.kind === 'release')) continue;
    try {
      execute(c);
    } catch (e) {
      if (c.kind !== 'persist') throw e;
      storeError ??= e as Error;
      onStoreError(c.what.op, e as Error);
    }
  }
  return storeError;
}
