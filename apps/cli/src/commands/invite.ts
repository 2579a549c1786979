/**
 * `hushfl invite --count N [--url URL] [--token TOKEN]`: single-use join codes from a running coordinator
 * (POST /api/invites) for `access: { enrollment: true }` (issue 13 §2). Each code admits one new client: hand
 * it to one device (`hushfl-node-client --join-code CODE`, or the client page's `?joinCode=CODE`). The codes
 * are printed one per line (stdout, for scripts); the coordinator keeps only their hashes.
 */
import { OperatorClient } from '@hushfl/operator-client';
import { MAX_INVITES } from '@hushfl/protocol';
import { UsageError, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';

const flags = {
  count: { kind: 'int', required: true, help: 'how many codes', range: `in [1, ${MAX_INVITES}]`, ok: (v: number) => v >= 1 && v <= MAX_INVITES },
  url: { kind: 'string', help: 'the coordinator (default http://127.0.0.1:8080)' },
  token: { kind: 'string', help: 'its operator token (default $HUSHFL_OPERATOR_TOKEN)' },
  json: { kind: 'bool', help: 'print {"codes": [...]}' },
} as const satisfies FlagSpecs;

export const inviteCommand: Command<typeof flags> = {
  name: 'invite',
  summary: 'issue single-use join codes for a coordinator with access: { enrollment: true }',
  flags,
  async run(f) {
    const token = f.token ?? process.env.HUSHFL_OPERATOR_TOKEN;
    if (!token) throw new UsageError('--token is required (or set $HUSHFL_OPERATOR_TOKEN): the operator token printed by hushfl start');
    const url = f.url ?? 'http://127.0.0.1:8080';
    try {
      new URL(url);
    } catch {
      throw new UsageError(`--url must be the coordinator's URL, got '${url}'`);
    }
    const { codes } = await new OperatorClient({ base: url, token, fetch }).invite(f.count!);
    return { json: { codes }, text: codes.join('\n') };
  },
};
