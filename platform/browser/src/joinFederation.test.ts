/**
 * joinFederation against a Socket.IO server that answers as a coordinator does (hello ack, `ready`), with
 * the SDK's real Workers (@vitest/web-worker) and IndexedDB (fake-indexeddb): it resolves once joined and the
 * site's examples, cut into shards in the localData Worker, reach the training Worker; the server hears
 * hello and ready and nothing else. It rejects with a refusal (hello, or the connection's middleware), and
 * before connecting when the examples do not fit. The real coordinator and rounds: e2e/sdk-embed.spec.ts.
 */
import 'fake-indexeddb/auto';
import '@vitest/web-worker';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_NAMESPACE, EVENTS, type HelloAck } from '@hushfl/protocol';
import { encodeShard } from '@hushfl/tasks';
import type { ExampleImage } from './examples.ts';
import { FederationError, joinFederation } from './joinFederation.ts';
import type { FederationProgress } from './progress.ts';
import { store } from './store.ts';

const SIDE = 28;
const digits = (n: number, side = SIDE): ExampleImage[] =>
  Array.from({ length: n }, (_, i) => ({ label: i % 10, width: side, height: side, pixels: new Array<number>(side * side).fill((i * 23) % 256) }));

const joined = (data: 'demo' | 'local', shards: number[] = []): HelloAck => ({
  ok: true,
  clientId: 'client-0001',
  sessionToken: 't'.repeat(32),
  resumed: false,
  shards,
  shardUrl: '/api/tasks/mnist/shards/',
  task: 'mnist',
  data,
  dataKey: `${data}:mnist`,
  runId: 'run-1',
  insecureContext: false,
});

interface FakeCoordinator {
  readonly url: string;
  /** Every event a client sent, in order. */
  readonly events: string[];
  /** Paths of the HTTP requests it served. */
  readonly requests: string[];
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** A Socket.IO server on the client namespace answering hello with `answer`; with `refuse`, its middleware turns every connection away. */
async function fakeCoordinator(answer: HelloAck, opts: { refuse?: string; shard?: Uint8Array } = {}): Promise<FakeCoordinator> {
  const requests: string[] = [];
  const http: HttpServer = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (opts.shard && req.url?.startsWith('/api/tasks/')) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(opts.shard);
    else res.writeHead(404).end();
  });
  const io = new Server(http, { serveClient: false });
  const events: string[] = [];
  let readyNow = () => {};
  const ready = new Promise<void>((resolve) => (readyNow = resolve));
  const ns = io.of(CLIENT_NAMESPACE);
  if (opts.refuse) ns.use((_socket, next) => next(new Error(opts.refuse)));
  ns.on('connection', (socket: Socket) => {
    socket.onAny((event: string) => events.push(event));
    socket.on(EVENTS.hello, (_hello: unknown, ack: (a: HelloAck) => void) => ack(answer));
    socket.on(EVENTS.ready, () => readyNow());
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    events,
    requests,
    ready,
    close: () => new Promise((resolve) => io.close(() => resolve())),
  };
}

afterEach(() => store.forget());

describe('joinFederation', () => {
  it("resolves once joined; a data: local run trains on the site's examples, and only hello and ready go to the coordinator", async () => {
    const c = await fakeCoordinator(joined('local'));
    const seen: FederationProgress[] = [];
    try {
      const client = await joinFederation({ url: c.url, examples: { images: digits(12) }, miniClients: 2, backend: 'cpu', onProgress: (p) => seen.push(p) });
      expect(client.clientId).toBe('client-0001');
      expect(client.state).toMatchObject({ connection: 'connected', clientId: 'client-0001', data: 'local', task: 'mnist', backend: 'cpu', stage: 'waiting' });
      await c.ready;
      // The training Worker holds the 12, in two shards (one per mini-client).
      expect(client.state.examples).toBe(12);
      expect(client.state.message).toBe("This run trains on this site's examples (12): they never leave this device.");
      expect(c.events).toEqual([EVENTS.hello, EVENTS.ready]);
      expect(c.requests).toEqual([]);
      // The site holds its examples: the SDK stores no copy.
      expect(await store.localData('mnist')).toBeUndefined();
      // Progress is reported on change only, never twice the same.
      expect(new Set(seen.map((p) => JSON.stringify(p))).size).toBe(seen.length);
      client.stop();
      expect(client.state.connection).toBe('stopped');
    } finally {
      await c.close();
    }
  });

  it('says a demo run trains on the demo shards, not on the examples', async () => {
    const shard = encodeShard(Uint8Array.from([1, 2]), new Uint8Array(2 * SIDE * SIDE), SIDE * SIDE, 10);
    const c = await fakeCoordinator(joined('demo', [4]), { shard });
    try {
      const client = await joinFederation({ url: c.url, examples: { images: digits(3) }, backend: 'cpu' });
      expect(client.state.data).toBe('demo');
      expect(client.state.message).toBe("Joined a demo run: it trains on the coordinator's demo shards of the mnist dataset, not on this site's examples.");
      await c.ready;
      expect(c.requests).toEqual(['/api/tasks/mnist/shards/4']);
      expect(client.state.examples).toBe(2);
      client.stop();
    } finally {
      await c.close();
    }
  });

  it("rejects with the coordinator's refusal of the hello, or of the connection", async () => {
    const full = await fakeCoordinator({ ok: false, error: 'the run is full' });
    const seen: FederationProgress[] = [];
    try {
      const e = await joinFederation({ url: full.url, backend: 'cpu', onProgress: (p) => seen.push(p) }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(FederationError);
      expect(e).toMatchObject({ kind: 'refused', message: 'The coordinator refused this client: the run is full' });
      expect(seen.some((p) => p.connection === 'refused' && p.error === 'The coordinator refused this client: the run is full')).toBe(true);
      expect(seen.at(-1)?.connection).toBe('stopped');
    } finally {
      await full.close();
    }
    const origin = await fakeCoordinator(joined('local'), { refuse: 'origin https://elsewhere.example is not allowed' });
    try {
      await expect(joinFederation({ url: origin.url, backend: 'cpu' })).rejects.toMatchObject({
        kind: 'refused',
        message: 'The coordinator refused this client: origin https://elsewhere.example is not allowed',
      });
    } finally {
      await origin.close();
    }
  });

  it('rejects examples that do not fit their task before connecting, and options that are not ones', async () => {
    const c = await fakeCoordinator(joined('local'));
    try {
      const e = await joinFederation({ url: c.url, examples: { task: 'mnist', images: [...digits(2), ...digits(1, 32)] }, backend: 'cpu' }).catch(
        (x: unknown) => x,
      );
      expect(e).toMatchObject({
        kind: 'cannot-join',
        message:
          "this site's examples cannot train: images[2]: the image is 32×32 pixels; the mnist task needs 28×28 (width×height): resize it or leave it out",
      });
      expect(c.events).toEqual([]);
      await expect(joinFederation({ url: c.url, miniClients: 0 })).rejects.toThrow('miniClients must be an integer from 1 to 16, got 0');
      await expect(joinFederation({ url: c.url, backend: 'gpu' as never })).rejects.toThrow("backend 'gpu' is not one of webgpu, webgl, wasm, cpu");
      await expect(joinFederation({ url: 'not a url' })).rejects.toThrow("url 'not a url' is not a URL");
      const aborted = new AbortController();
      aborted.abort();
      await expect(joinFederation({ url: c.url, signal: aborted.signal })).rejects.toMatchObject({ kind: 'aborted' });
    } finally {
      await c.close();
    }
  });
});
