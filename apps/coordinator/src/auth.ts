/** Random identifiers and tokens (CSPRNG), and constant-time comparison of hashed secrets. */
import { createHash, timingSafeEqual } from 'node:crypto';

export function randomToken(bytes: number): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(bytes))).toString('base64url');
}

/** The fewest bits of entropy an operator token may carry (issue 13 §4): 128, as randomToken(16) gives. */
export const MIN_OPERATOR_TOKEN_BITS = 128;

/**
 * An upper estimate of a token's entropy: its length times log2 of the smallest usual alphabet that holds it
 * (digits 10, hex 16, one-case alphanumerics 36, base64url 64, else printable ASCII 95). It is generous (it
 * cannot tell a random token from a word), so it only refuses what is certainly too weak; a random
 * base64url token of 22 characters (randomToken(16)) passes unless it happens to use one case only.
 */
export function tokenEntropyBits(token: string): number {
  if (token.length === 0) return 0;
  const alphabet = /^[0-9]+$/.test(token)
    ? 10
    : /^[0-9a-f]+$/.test(token) || /^[0-9A-F]+$/.test(token)
      ? 16
      : /^[0-9a-z]+$/.test(token) || /^[0-9A-Z]+$/.test(token)
        ? 36
        : /^[A-Za-z0-9_-]+$/.test(token)
          ? 64
          : 95;
  return token.length * Math.log2(alphabet);
}

/** Refuses an operator token weaker than MIN_OPERATOR_TOKEN_BITS, naming where it came from. */
export function checkOperatorToken(token: string, source: string): void {
  const bits = tokenEntropyBits(token);
  if (bits < MIN_OPERATOR_TOKEN_BITS)
    throw new RangeError(
      `${source}: the operator token has at most ${Math.floor(bits)} bits of entropy, fewer than ${MIN_OPERATOR_TOKEN_BITS} (an empty token would open the operator API to anyone); use at least 22 random base64url characters, or leave it unset for a random one`,
    );
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

/** Token bucket: `capacity` messages at once, refilled at `perSecond`. */
export class RateLimiter {
  private tokens: number;
  private last = Date.now();
  dropped = 0;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
  ) {
    this.tokens = capacity;
  }

  allow(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.dropped++;
    return false;
  }
}
