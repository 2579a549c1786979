/**
 * Flag parsing for the CLI: every flag is declared with its kind and allowed range, so a bad value is
 * refused with one line naming the flag and what it accepts (exit code 2).
 */
import { parseArgs } from 'node:util';
import { MAX_DIM } from '@hushfl/ddp';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `list`: a string flag that may repeat, each value also split at commas (`--x a --x b,c` is [a, b, c]). */
type Kind = 'number' | 'int' | 'string' | 'bool' | 'list';

export interface FlagSpec {
  readonly kind: Kind;
  readonly required?: boolean;
  /** Human text of the allowed range, used in error messages ("in (0, 1]"). */
  readonly range?: string;
  /** Returns true when the (parsed) value is allowed. */
  readonly ok?: (v: number) => boolean;
  readonly help: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export type ParsedFlags<S extends FlagSpecs> = {
  [K in keyof S]: S[K]['kind'] extends 'bool'
    ? boolean
    : S[K]['kind'] extends 'string'
      ? string | undefined
      : S[K]['kind'] extends 'list'
        ? string[]
        : number | undefined;
};

export const positive = { range: '> 0', ok: (v: number) => v > 0 } as const;
export const unitOpen = { range: 'in (0, 1)', ok: (v: number) => v > 0 && v < 1 } as const;
export const unitHalfOpen = { range: 'in (0, 1]', ok: (v: number) => v > 0 && v <= 1 } as const;
export const atLeastOne = { range: '>= 1', ok: (v: number) => v >= 1 } as const;
/** A model dimension the rotation can handle (packages/ddp's MAX_DIM = 2^30). */
export const dimension = { range: 'in [1, 2^30]', ok: (v: number) => v >= 1 && v <= MAX_DIM } as const;

/** Parses argv against the specs; throws UsageError with a one-line message on any problem. */
export function parseFlags<S extends FlagSpecs>(argv: string[], specs: S): ParsedFlags<S> {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(specs))
    options[name] = { type: spec.kind === 'bool' ? 'boolean' : 'string', ...(spec.kind === 'list' ? { multiple: true } : {}) };
  // `--clip -1` would read as two flags; join a negative-looking value to its flag so the range check names it.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const spec = a.startsWith('--') ? specs[a.slice(2)] : undefined;
    const next = argv[i + 1];
    if (spec && spec.kind !== 'bool' && next !== undefined && /^-[\d.]/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/^Unknown option/, 'unknown flag'));
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw = values[name];
    if (spec.kind === 'list') {
      const items = ((raw ?? []) as string[]).flatMap((v) => v.split(',')).map((v) => v.trim());
      if (items.some((v) => v === '')) throw new UsageError(`--${name} has an empty value (${spec.help})`);
      if (spec.required && !items.length) throw new UsageError(`--${name} is required (${spec.help})`);
      out[name] = items;
      continue;
    }
    if (raw === undefined) {
      if (spec.required) throw new UsageError(`--${name} is required (${spec.help}${spec.range ? `, ${spec.range}` : ''})`);
      out[name] = spec.kind === 'bool' ? false : undefined;
      continue;
    }
    if (spec.kind === 'bool' || spec.kind === 'string') {
      out[name] = raw;
      continue;
    }
    const text = String(raw).trim();
    const v = text === '' ? NaN : Number(text);
    const what = spec.kind === 'int' ? 'an integer' : 'a number';
    const range = spec.range ? ` ${spec.range}` : '';
    if (!Number.isFinite(v) || (spec.kind === 'int' && !Number.isInteger(v)) || (spec.ok && !spec.ok(v))) {
      throw new UsageError(`--${name} must be ${what}${range}, got '${text}'`);
    }
    out[name] = v;
  }
  return out as ParsedFlags<S>;
}

/** The help lines for a command's flags. */
export function describeFlags(specs: FlagSpecs): string {
  const heads = Object.entries(specs).map(([name, s]) => `  --${name}${s.kind === 'bool' ? '' : ' <v>'}`);
  const width = Math.max(24, ...heads.map((h) => h.length + 2));
  return Object.entries(specs)
    .map(([, s], i) => `${heads[i]!.padEnd(width)}${s.help}${s.range ? ` (${s.range})` : ''}${s.required ? '' : ' [optional]'}`)
    .join('\n');
}

/** DdpParameterError names fields in camelCase; the CLI names them as flags. */
export function flagName(param: string): string {
  return `--${param.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
