/** httpErrorMessage: the coordinator's words, never an object's default string. */
import { describe, expect, it } from 'vitest';
import { httpErrorMessage } from './httpError.ts';

describe('httpErrorMessage', () => {
  it('takes the error text of the API’s JSON body', () => {
    expect(httpErrorMessage(403, JSON.stringify({ error: 'shard 4 is not assigned to this client' }))).toBe('HTTP 403: shard 4 is not assigned to this client');
    expect(
      httpErrorMessage(400, JSON.stringify({ error: 'index: must be a shard number', issues: [{ path: 'index', message: 'must be a shard number' }] })),
    ).toBe('HTTP 400: index: must be a shard number');
  });

  it('keeps other bodies as text, bounded, and says the status alone when there is none', () => {
    expect(httpErrorMessage(502, '<html>\n  <body>Bad Gateway</body>\n</html>')).toBe('HTTP 502: <html> <body>Bad Gateway</body> </html>');
    expect(httpErrorMessage(403, JSON.stringify({ reason: 'other shape' }))).toBe('HTTP 403: {"reason":"other shape"}');
    expect(httpErrorMessage(500, 'x'.repeat(1000))).toBe(`HTTP 500: ${'x'.repeat(300)}…`);
    expect(httpErrorMessage(404, '')).toBe('HTTP 404');
    for (const body of ['{"error":{"nested":true}}', '[1,2]', 'null']) expect(httpErrorMessage(403, body)).not.toMatch(/\[object /);
  });
});
