/**
 * Optional enrollment (issue 13 §2, "Sybils and floods cost something"): with `access: { enrollment: true }`
 * a new identity's hello must carry a single-use join code the operator issued (POST /api/invites, the
 * dashboard, `hushfl invite --count N`). A code is 128 random bits, shown once and stored only as its hash
 * (like session tokens), so a copy of the database admits no one.
 */
import { hashToken, randomToken } from './auth.ts';
import type { Store } from './store.ts';

/** Issues `count` fresh codes; the caller shows them to the operator once. */
export async function issueJoinCodes(store: Store, count: number): Promise<string[]> {
  const codes = Array.from({ length: count }, () => randomToken(16));
  await store.addJoinCodes(codes.map(hashToken));
  return codes;
}

/** Why a code does not admit a new identity, or null when it does (it is then used up by `clientId`). */
export async function redeemJoinCode(store: Store, code: string | undefined, clientId: string): Promise<string | null> {
  if (code === undefined) return 'this coordinator admits new clients with a join code only: ask the operator for one (hushfl invite)';
  const hash = hashToken(code);
  const row = await store.joinCode(hash);
  if (!row) return 'unknown join code: ask the operator for a new one';
  if (row.used_at !== null || !(await store.redeemJoinCode(hash, clientId))) return 'this join code was already used: each admits one client';
  return null;
}
