/**
 * `hushfl-node-client --url URL [--clients N] [--mini-clients K] [--dropout P] [--workers W] [--insecure-tls]`:
 * joins a coordinator with N Node clients and takes part in its rounds until interrupted. Returns the exit
 * code: 0 after a clean stop, 1 when the clients could not join, 2 for bad arguments.
 */
import { parseArgs } from 'node:util';
import { startClientPool, type ClientPoolOptions } from './workerPool.ts';

const USAGE = 'usage: hushfl-node-client --url URL [--clients N] [--mini-clients K] [--dropout P] [--workers W] [--insecure-tls]';

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
    options = {
      url: new URL(values.url).toString(),
      clients: count('clients', values.clients, 1, 10_000),
      miniClients: count('mini-clients', values['mini-clients'], 1, 256),
      dropout,
      workers: values.workers === undefined ? undefined : count('workers', values.workers, 1, 1024),
      insecureTls: Boolean(values['insecure-tls']),
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
  process.stdout.write(`${options.clients} client(s) × ${options.miniClients} mini-client(s) joined ${options.url}; Ctrl-C leaves\n`);
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
