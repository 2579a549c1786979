/**
 * Secrets never reach the log (issue 13 §4). A token can ride in a URL (`/dashboard?token=…` pasted by an
 * operator, a script's `?operatorToken=`), in the Authorization or Cookie header and in the client session
 * header: Fastify's request lines, its "Route … not found" line and any message quoting a URL get the
 * value of such a query parameter replaced by `[redacted]`, and pino removes those headers wherever an
 * object logs them.
 */
import type { FastifyRequest, FastifyServerOptions } from 'fastify';

type LoggerOptions = Exclude<FastifyServerOptions['logger'], boolean | undefined>;

/** Query parameters whose value is a secret (compared without case). */
export const SECRET_PARAMS: readonly string[] = ['token', 'sessionToken', 'operatorToken'];
export const REDACTED = '[redacted]';

const secret = new Set(SECRET_PARAMS.map((p) => p.toLowerCase()));

function decodedKey(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

// A query parameter: after ? or &, a key, =, a value up to the next &, #, space or quote.
const PARAM = /([?&])([^?&#=\s"'<>]+)=([^&#\s"'<>]*)/g;

/**
 * `url` (or any text quoting URLs) with the value of every secret query parameter replaced by [redacted];
 * keys are matched decoded (`%74oken=` is `token=`, as the query parser reads it). Everything else is kept
 * as it was, byte for byte.
 */
export function redactUrl(url: string): string {
  return url.replace(PARAM, (whole, sep: string, key: string, value: string) =>
    value !== '' && secret.has(decodedKey(key)) ? `${sep}${key}=${REDACTED}` : whole,
  );
}

/** Where pino removes a secret header: in request objects and in bare header objects a line logs. */
const SECRET_HEADERS = ['authorization', 'cookie', 'x-hushfl-session'];
export const REDACT_PATHS: readonly string[] = SECRET_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `headers["${h}"]`]);

/** Fastify's request serializer (method, url, host, address), the url redacted. */
function serializeRequest(req: FastifyRequest) {
  return {
    method: req.method,
    url: redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/** The logger options of createCoordinator that keep secrets out of every line. */
export const redactingLoggerOptions = {
  serializers: { req: serializeRequest },
  redact: { paths: [...REDACT_PATHS], censor: REDACTED },
  // A line's own string fields (`{ url }`), one level deep.
  formatters: {
    log: (obj: Record<string, unknown>) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) out[k] = typeof v === 'string' ? redactUrl(v) : v;
      return out;
    },
  },
  // Messages are text too: Fastify writes the URL of an unknown route into one.
  hooks: {
    logMethod(args: unknown[], method: (...a: unknown[]) => void) {
      method.apply(
        this,
        args.map((a) => (typeof a === 'string' ? redactUrl(a) : a)),
      );
    },
  },
} satisfies LoggerOptions;
