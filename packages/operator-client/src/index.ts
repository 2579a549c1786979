/** @hushfl/operator-client — the typed client of the coordinator's operator HTTP API. */
export * from './client.ts';
