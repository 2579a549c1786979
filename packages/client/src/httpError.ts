/**
 * What a client says when the coordinator refuses a download (a shard: 401, 403, 400): the status and the
 * coordinator's own words from its `{ error }` body, e.g. "HTTP 403: shard 4 is not assigned to this client".
 * One wording for the page and the Node client: the page used to keep only the status, the Node client the raw
 * JSON, and a parsed body put into a message as it is reads "[object Object]".
 */

/** At most this much of a body that is not the API's error JSON (an HTML page of a proxy, say). */
const MAX_TEXT = 300;

export function httpErrorMessage(status: number, body: string): string {
  let text = body.trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed && typeof parsed.error === 'string') text = parsed.error;
  } catch {
    // not JSON: the text as it is
  }
  text = text.replace(/\s+/g, ' ');
  if (text.length > MAX_TEXT) text = `${text.slice(0, MAX_TEXT)}…`;
  return text ? `HTTP ${status}: ${text}` : `HTTP ${status}`;
}
