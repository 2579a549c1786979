/**
 * The invites panel: issues N single-use join codes (POST /api/invites) for a coordinator or run with
 * `access: { enrollment: true }`, and shows each with the client page's URL that carries it (`?joinCode=`).
 * The codes are shown once, here: the coordinator keeps only their hashes.
 */
import { useState } from 'react';
import { MAX_INVITES } from '@hushfl/protocol';
import type { OperatorApi } from './api.ts';

/** The client page's URL with a join code in its query. */
export function inviteUrl(pageUrl: string, code: string): string {
  const u = new URL(pageUrl);
  u.searchParams.set('joinCode', code);
  return u.toString();
}

export function Invites({ api, pageUrl, onError }: { api: OperatorApi; pageUrl: string; onError: (e: unknown) => void }) {
  const [count, setCount] = useState(5);
  const [codes, setCodes] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const issue = async () => {
    setBusy(true);
    try {
      setCodes((await api.invite(count)).codes);
    } catch (e) {
      onError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="card" data-testid="invites">
      <h2>Invites</h2>
      <p className="muted">
        With <code>access: {'{ enrollment: true }'}</code> a new client needs a single-use join code. Each code below is shown only now.
      </p>
      <div className="buttons">
        <label>
          Codes{' '}
          <input
            type="number"
            min={1}
            max={MAX_INVITES}
            value={count}
            onChange={(e) => setCount(Math.max(1, Math.min(MAX_INVITES, Math.floor(Number(e.target.value)) || 1)))}
            data-testid="invite-count"
          />
        </label>
        <button type="button" disabled={busy} onClick={() => void issue()} data-testid="invite">
          Issue codes
        </button>
      </div>
      {codes.length > 0 && (
        <ul data-testid="invite-codes">
          {codes.map((code) => (
            <li key={code}>
              <code>{code}</code>{' '}
              <a href={inviteUrl(pageUrl, code)} data-testid="invite-url">
                join link
              </a>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
