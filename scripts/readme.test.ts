/**
 * Every command README.md shows works as written on a fresh machine that has only Node 20 and npm. The
 * commands are the lines of its ```sh blocks (comments skipped, `\` continuations joined) and the inline code
 * spans that start with a program (`npm run simulate:tabs -- --tabs 6 …`). Each distinct command — the
 * script and its sub-command words, e.g. `npm run hushfl -- account ddg` — runs with `--help` in a clean
 * environment: PATH is node's and npm's directory plus /usr/bin:/bin (no pnpm, no .tools/), HOME a fresh
 * directory, and the real npm cache so nothing downloads. It must exit 0 and print usage that names every flag
 * the README uses with it. `npm test` is skipped: it runs the suite this test is part of.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

interface ReadmeCommand {
  /** 1-based line of the README where the command starts. */
  readonly line: number;
  readonly text: string;
}

/** Programs an inline code span may start with to count as a command (prose names like `simulate --json` do not). */
const PROGRAMS = new Set(['npm', 'npx', 'pnpm', 'yarn', 'corepack', 'node', 'tsx']);
/** What a fresh machine has on its PATH. */
const FRESH_MACHINE = new Set(['npm', 'node']);

function readmeCommands(markdown: string): ReadmeCommand[] {
  const lines = markdown.split('\n');
  const out: ReadmeCommand[] = [];
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const opening = /^\s*```\s*(\S*)/.exec(raw);
    if (opening) {
      fence = fence === null ? opening[1]!.toLowerCase() : null;
      continue;
    }
    if (fence === 'sh' || fence === 'bash' || fence === 'shell') {
      const start = i;
      let text = raw;
      while (/\\\s*$/.test(text) && i + 1 < lines.length) text = `${text.replace(/\\\s*$/, ' ')}${lines[++i]!}`;
      text = text
        .replace(/(^|\s)#.*$/, '')
        .replace(/\s+/g, ' ')
        .trim();
      if (text) out.push({ line: start + 1, text });
    } else if (fence === null) {
      for (const m of raw.matchAll(/`([^`]+)`/g)) {
        const text = m[1]!.trim();
        if (PROGRAMS.has(text.split(/\s+/)[0]!)) out.push({ line: i + 1, text });
      }
    }
  }
  return out;
}

interface Invocation {
  /** The command run, without the final `--help` (e.g. `npm run hushfl -- account ddg`). */
  readonly key: string;
  readonly program: string;
  /** Arguments, `--help` included. */
  readonly args: string[];
  /** Flags the README passes to it. */
  readonly flags: Set<string>;
  readonly shown: ReadmeCommand[];
  /** Why it cannot work as written, if that is clear without running it. */
  readonly problems: string[];
}

/** A README word that names a sub-command, not a flag, a placeholder (`<token>`) or an option (`[--json]`). */
const isWord = (w: string) => /^[A-Za-z0-9.][\w.:/-]*$/.test(w);

function invocations(commands: ReadmeCommand[]): Invocation[] {
  const byKey = new Map<string, Invocation>();
  for (const c of commands) {
    const [program, ...rest] = c.text.split(/\s+/);
    const problems: string[] = [];
    let head: string[] = [];
    let scriptArgs = rest;
    if (!FRESH_MACHINE.has(program!)) problems.push(`'${program}' is not on a fresh machine (only node and npm are): write it with npm run`);
    if (program === 'npm') {
      head = rest.slice(0, rest[0] === 'run' || rest[0] === 'run-script' ? 2 : 1);
      const after = rest.slice(head.length);
      if (after.length > 0 && after[0] !== '--') problems.push(`npm reads '${after[0]}' as its own option: the script's arguments go after --`);
      scriptArgs = after[0] === '--' ? after.slice(1) : after;
      head.push('--');
    }
    const sub: string[] = [];
    for (const w of scriptArgs) {
      if (!isWord(w)) break;
      sub.push(w);
    }
    const key = [program, ...head, ...sub].join(' ');
    const entry = byKey.get(key) ?? { key, program: program!, args: [...head, ...sub, '--help'], flags: new Set(), shown: [], problems: [] };
    for (const w of scriptArgs) for (const f of w.match(/--[a-z][a-z0-9-]*/g) ?? []) entry.flags.add(f);
    entry.shown.push(c);
    entry.problems.push(...problems.map((p) => `README.md:${c.line}: ${p}`));
    byKey.set(key, entry);
  }
  return [...byKey.values()];
}

/** npm's own lines (`> hushfl@ bench`, the echoed script, notices) and the bootstrap's log. */
const ownLines = (output: string) =>
  output
    .split('\n')
    .filter((l) => !/^> |^npm (notice|warn)|^\[bootstrap\]/.test(l))
    .join('\n');

describe('readmeCommands', () => {
  const sample = [
    'Run `npm run simulate:tabs -- --tabs 6 [--headed]`; `simulate --json` is prose.',
    '```sh',
    '# a comment',
    'pnpm hushfl account ddg --clip 1 \\',
    '  --rounds 10   # trailing comment',
    'npm start     # the coordinator',
    '```',
    '```',
    'npm run not-a-command',
    '```',
  ].join('\n');

  it('takes sh lines (comments dropped, continuations joined) and inline commands', () => {
    expect(readmeCommands(sample)).toEqual([
      { line: 1, text: 'npm run simulate:tabs -- --tabs 6 [--headed]' },
      { line: 4, text: 'pnpm hushfl account ddg --clip 1 --rounds 10' },
      { line: 6, text: 'npm start' },
    ]);
  });

  it('names the command to run with --help, its flags, and what cannot work on a fresh machine', () => {
    const inv = invocations(readmeCommands(sample));
    expect(inv.map((i) => [i.key, i.args.join(' '), [...i.flags].join(' '), i.problems.length])).toEqual([
      ['npm run simulate:tabs --', 'run simulate:tabs -- --help', '--tabs --headed', 0],
      ['pnpm hushfl account ddg', 'hushfl account ddg --help', '--clip --rounds', 1],
      ['npm start --', 'start -- --help', '', 0],
    ]);
    expect(invocations(readmeCommands('`npm run simulate --tabs 6`'))[0]!.problems).toEqual([
      "README.md:1: npm reads '--tabs' as its own option: the script's arguments go after --",
    ]);
  });
});

describe('every command README.md shows answers --help on a fresh machine', () => {
  const all = invocations(readmeCommands(readFileSync(join(root, 'README.md'), 'utf8')));
  // `npm test` runs every suite, this one included: --help would not stop it.
  const runnable = all.filter((i) => i.key !== 'npm test --');
  let env: Record<string, string> | undefined;
  afterAll(() => {
    if (env) rmSync(env.HOME!, { recursive: true, force: true });
  });
  const cleanEnv = (): Record<string, string> => {
    if (env) return env;
    const home = mkdtempSync(join(tmpdir(), 'hushfl-readme-home-'));
    const cache =
      process.env.npm_config_cache || spawnSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8', cwd: root }).stdout?.trim() || join(homedir(), '.npm');
    env = { PATH: [dirname(process.execPath), '/usr/bin', '/bin'].join(delimiter), HOME: home, npm_config_cache: cache };
    // Where Chromium lives is the machine's business (the bootstrap of simulate:tabs checks it), not pnpm's.
    if (process.env.HUSHFL_CHROMIUM) env.HUSHFL_CHROMIUM = process.env.HUSHFL_CHROMIUM;
    return env;
  };

  it('shows the commands of the README (npm start, npm test, the CLI, simulate, simulate:tabs, bench)', () => {
    const keys = all.map((i) => i.key);
    for (const k of ['npm start --', 'npm test --', 'npm run hushfl -- start', 'npm run simulate --', 'npm run simulate:tabs --', 'npm run bench --']) {
      expect(keys).toContain(k);
    }
  });

  for (const inv of runnable) {
    const where = inv.shown.map((c) => `README.md:${c.line}: ${c.text}`).join('\n');
    it(`${inv.key} --help`, { timeout: 35_000 }, () => {
      expect(inv.problems, 'does not work as written').toEqual([]);
      const r = spawnSync(inv.program, inv.args, { cwd: root, env: cleanEnv(), encoding: 'utf8', timeout: 30_000, maxBuffer: 16 << 20 });
      const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
      const failed = r.error
        ? `${inv.program}: ${r.error.message}`
        : `\`${inv.key} --help\` exited ${r.status ?? r.signal}:\n${output.split('\n').slice(-20).join('\n')}`;
      expect(r.status, `does not work on a fresh machine:\n${where}\n${failed}`).toBe(0);
      const help = ownLines(output);
      expect(help, `\`${inv.key} --help\` printed no flags`).toMatch(/--[a-z]/);
      const missing = [...inv.flags].filter((f) => !new RegExp(`${f}(?![a-z0-9-])`).test(help));
      expect(missing, `\`${inv.key} --help\` does not describe flags the README uses:\n${where}`).toEqual([]);
    });
  }
});
