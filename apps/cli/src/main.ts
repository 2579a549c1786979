/**
 * The `hushfl` command line. `main(argv, io)` returns the exit code so the whole CLI runs in-process in
 * tests: 0 success, 1 failure, 2 bad arguments (one line naming the flag and its allowed range).
 */
import { DdpParameterError } from '@hushfl/ddp';
import { UsageError, describeFlags, flagName, parseFlags } from './args.ts';
import type { Command } from './command.ts';
import { accountDdgCommand, accountDpsgdCommand } from './commands/account.ts';
import { calibrateDdgCommand } from './commands/calibrate.ts';
import { enrollAuthorityCommand, enrollIssueCommand } from './commands/enroll.ts';
import { sampleDgaussCommand } from './commands/sample.ts';
import { secaggParamsCommand } from './commands/secaggParams.ts';
import { secaggSimCommand } from './commands/secaggSim.ts';
import { experimentUtilityCommand } from './commands/experiment.ts';
import { experimentSummaryCommand } from './commands/experimentSummary.ts';
import { inviteCommand } from './commands/invite.ts';
import { loadtestCommand } from './commands/loadtest.ts';
import { simulateCommand } from './commands/simulate.ts';
import { startCommand } from './commands/start.ts';
import { tasksCommand } from './commands/tasks.ts';
import { printJson, processIO, type CliIO } from './io.ts';

// biome-ignore lint/suspicious/noExplicitAny: each command is typed by its own flag specs where it is defined
const commands: Command<any>[] = [
  startCommand,
  loadtestCommand,
  accountDdgCommand,
  accountDpsgdCommand,
  calibrateDdgCommand,
  sampleDgaussCommand,
  secaggParamsCommand,
  secaggSimCommand,
  simulateCommand,
  tasksCommand,
  experimentUtilityCommand,
  experimentSummaryCommand,
  enrollAuthorityCommand,
  enrollIssueCommand,
  inviteCommand,
];

function usage(): string {
  const lines = [
    'hushfl — private cross-device federated learning (SecAgg+ with distributed discrete Gaussian DP)',
    '',
    'Usage: hushfl <command> [flags]',
    '',
    'Commands:',
  ];
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  for (const c of commands) lines.push(`  ${c.name.padEnd(width)}${c.summary}`);
  lines.push('', 'Run `hushfl <command> --help` for its flags. Add --json for machine-readable output.');
  return `${lines.join('\n')}\n`;
}

function findCommand(argv: string[]): { command: Command; rest: string[] } | null {
  for (const c of commands) {
    const words = c.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { command: c, rest: argv.slice(words.length) };
  }
  return null;
}

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(usage());
    return 0;
  }
  const found = findCommand(argv);
  if (!found) {
    const known = commands.map((c) => c.name.split(' ')[0]);
    const hint = known.includes(argv[0]!)
      ? `: '${argv[0]}' needs one of ${commands
          .filter((c) => c.name.startsWith(`${argv[0]!} `))
          .map((c) => `'${c.name}'`)
          .join(', ')}`
      : '';
    io.err(`hushfl: unknown command '${argv.join(' ')}'${hint}; run hushfl --help\n`);
    return 2;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`hushfl ${command.name} — ${command.summary}\n\n${describeFlags(command.flags)}\n`);
    return 0;
  }
  try {
    const flags = parseFlags(rest, command.flags);
    const result = await command.run(flags, io);
    if (result.silent) return result.code ?? 0;
    if ((flags as { json?: boolean }).json) printJson(io, result.json);
    else io.out(`${result.text}\n`);
    return result.code ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`hushfl ${command.name}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof DdpParameterError) {
      io.err(`hushfl ${command.name}: ${flagName(e.param)}: ${e.message}\n`);
      return 2;
    }
    io.err(`hushfl ${command.name}: ${(e as Error).message}\n`);
    return 1;
  }
}
