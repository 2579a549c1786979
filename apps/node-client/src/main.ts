/**
 * `hushfl-node-client --url URL [--clients N] [--mini-clients K] [--dropout P] [--workers W] [--insecure-tls]
 * [--identity FILE --authority-key HEX] [--join-code CODE[,CODE…]]`: joins a coordinator with N Node clients and
 * takes part in its rounds until interrupted. A coordinator with enrollment needs a join code per client
 * (`hushfl invite --count N`); without --clients, one client per code. With --identity (a file from
 * `hushfl enroll issue`) and the authority's public key the client runs in PKI mode (issue 12 §6): it signs its
 * round keys and refuses neighbours the pinned authority did not certify; one identity runs one client. Returns the exit code: 0 after a clean stop, 1 when the
 * clients could not join, 2 for bad arguments.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkOwnIdentity, fromHex, identityFromJson, type PkiClientOptions } from '@hushfl/secagg';
import { startClientPool, type ClientPoolOptions } from './workerPool.ts';

const USAGE =
  'usage: hushfl-node-client --url URL [--clients N] [--mini-clients K] [--dropout P] [--workers W] [--insecure-tls] [--identity FILE --authority-key HEX] [--join-code CODE[,CODE…]]';

/** PKI mode from --identity FILE and --authority-key HEX (both or neither); the identity is checked now. */
async function pkiOf(identityFile: string | undefined, authorityHex: string | undefined): Promise<Omit<PkiClientOptions, 'now'> | undefined> {
  if (identityFile === undefined && authorityHex === undefined) return undefined;
  if (identityFile === undefined || authorityHex === undefined) throw new RangeError('--identity and --authority-key go together (PKI mode)');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(identityFile, 'utf8'));
  } catch (e) {
    throw new RangeError(`--identity: cannot read ${identityFile}: ${messageOf(e)}`);
  }
  const authorityKey = fromHex(authorityHex.trim(), 32, '--authority-key');
  let pki: Omit<PkiClientOptions, 'now'>;
  try {
    pki = { authorityKey, identity: identityFromJson(json) };
    await checkOwnIdentity(pki, Date.now());
  } catch (e) {
    throw new RangeError(`--identity ${identityFile}: ${messageOf(e)}`);
  }
  return pki;
}

function count(flag: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new RangeError(`--${flag} must be an integer from 1 to ${max}, got ${value}`);
  return n;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function main(argv: readonly string[]): Promise<number> {
  let options: ClientPoolOptions;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        url: { type: 'string' },
        clients: { type: 'string' },
        'mini-clients': { type: 'string' },
        dropout: { type: 'string' },
        workers: { type: 'string' },
        'insecure-tls': { type: 'boolean' },
        identity: { type: 'string' },
        'authority-key': { type: 'string' },
        'join-code': { type: 'string' },
        help: { type: 'boolean' },
      },
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (!values.url) throw new RangeError('--url is required');
    const dropout = Number(values.dropout ?? 0);
    if (!(dropout >= 0 && dropout < 1)) throw new RangeError(`--dropout must be in [0, 1), got ${values.dropout}`);
    const pki = await pkiOf(values.identity, values['authority-key']);
    const joinCodes = values['join-code']?.split(',').map((c) => c.trim());
    if (joinCodes?.some((c) => !/^[A-Za-z0-9_-]{16,128}$/.test(c))) throw new RangeError('--join-code takes codes from hushfl invite, separated by commas');
    const clients = count('clients', values.clients, joinCodes?.length ?? 1, 10_000);
    if (joinCodes && joinCodes.length !== clients) throw new RangeError(`--join-code has ${joinCodes.length} code(s) for --clients ${clients}: one per client`);
    if (pki && clients !== 1) throw new RangeError(`--identity runs one client (each needs its own certificate), not --clients ${clients}`);
    options = {
      url: new URL(values.url).toString(),
      clients,
      miniClients: count('mini-clients', values['mini-clients'], 1, 256),
      dropout,
      workers: values.workers === undefined ? undefined : count('workers', values.workers, 1, 1024),
      insecureTls: Boolean(values['insecure-tls']),
      ...(pki ? { pki } : {}),
      ...(joinCodes ? { joinCodes } : {}),
    };
  } catch (e) {
    process.stderr.write(`${messageOf(e)}\n${USAGE}\n`);
    return 2;
  }
  const pool = startClientPool(options, (m) => {
    if (m.type === 'log') process.stderr.write(`${m.message}\n`);
    else if (m.type === 'vanished') process.stderr.write(`client ${m.clientId} vanishes from ${m.roundId} (${m.point})\n`);
  });
  try {
    await pool.ready;
  } catch (e) {
    process.stderr.write(`could not join ${options.url}: ${messageOf(e)}\n`);
    await pool.stop();
    return 1;
  }
  const as = options.pki ? ` as ${options.pki.identity.certificate.subject} (PKI mode)` : '';
  process.stdout.write(`${options.clients} client(s) × ${options.miniClients} mini-client(s) joined ${options.url}${as}; Ctrl-C leaves\n`);
  await interrupted();
  await pool.stop();
  return 0;
}

/** Resolves on the first SIGINT or SIGTERM. */
function interrupted(): Promise<unknown> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
