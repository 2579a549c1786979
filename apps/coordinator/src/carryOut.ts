/**
 * How the shell carries out one run-engine step: its commands in order. A persist that fails stops every
 * later send and release of the step — the write-ahead charge may be what failed, and nothing that follows it
 * may go out — while timers, logs, notices and the evaluation still run, so the engine is never left waiting
 * on something the shell dropped. The engine then hears of it (a 'store-failed' event) in the same turn.
 */
import type { RunCommand, RunEvent } from '@hushfl/engine';

export async function carryOut(
  commands: readonly RunCommand[],
  execute: (c: RunCommand) => void | Promise<void>,
  onStoreError: (op: string, e: Error) => void,
): Promise<Error | null> {
  let storeError: Error | null = null;
  for (const c of commands) {
    if (storeError && (c.kind === 'send' || c.kind === 'release')) continue;
    try {
      // Awaited one by one: a send after a persist goes out only once the write is stored (write-ahead).
      await execute(c);
    } catch (e) {
      if (c.kind !== 'persist') throw e;
      storeError ??= e as Error;
      onStoreError(c.what.op, e as Error);
    }
  }
  return storeError;
}

/**
 * One engine step and its commands, then — in the same turn, before any other event, so that nothing (a
 * reconnect's replay of an unmask request whose charge was not stored, say) runs against the state a failed
 * write left — the engine's answer to each failed write (a 'store-failed' event, which aborts the attempt).
 * Returns the step's own commands.
 */
export async function runStep(
  engine: { handle(e: RunEvent): Promise<RunCommand[]> },
  event: RunEvent,
  execute: (c: RunCommand) => void | Promise<void>,
  onStoreError: (e: Error, op: string) => void,
): Promise<RunCommand[]> {
  const commands = await engine.handle(event);
  let failed = await carryOut(commands, execute, (op, e) => onStoreError(e, op));
  // Bounded: an abort whose own writes fail leaves no attempt to abort, and the engine then only logs.
  for (let i = 0; failed && i < 3; i++) {
    const answer = await engine.handle({ type: 'store-failed', error: failed.message });
    failed = await carryOut(answer, execute, (op, e) => onStoreError(e, op));
  }
  return commands;
}
