/** Test helper: run the CLI in-process with captured output. */
import type { CliIO } from './io.ts';
import { main } from './main.ts';

export async function runCli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    isTTY: false,
  };
  const code = await main(argv, io);
  return { code, out, err };
}
