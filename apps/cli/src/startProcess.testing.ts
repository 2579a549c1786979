/** `hushfl start` as a real child process, for the restart and cluster tests: started, asked, and its clients. */
import { type ChildProcess, spawn } from 'node:child_process';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase, type LocalServer } from '@hushfl/coordinator';
import { connectNodeClient, type NodeClient } from '@hushfl/node';

export const bin = fileURLToPath(new URL('../bin/hushfl.mjs', import.meta.url));
export const TOKEN = 'restart-test-token-0123456789abcdef';

export function start(args: string[]): Promise<{ child: ChildProcess; url: string; run: string | null; node?: string; leader?: boolean; stderr(): string }> {
  const child = spawn(process.execPath, [bin, 'start', ...args, '--port', '0', '--operator-token', TOKEN, '--json', '--log-level', 'error'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve({ child, ...JSON.parse(line!), stderr: () => err });
    });
    child.once('exit', (code) => reject(new Error(`hushfl start exited with ${code}: ${err}`)));
  });
}

export async function api<T>(url: string, path: string): Promise<T> {
  const res = await fetch(new URL(path, url), { headers: { authorization: `Bearer ${TOKEN}` } });
  return (await res.json()) as T;
}

export async function clients(url: string, n: number, o: { reconnect?: boolean } = {}): Promise<NodeClient[]> {
  const out: NodeClient[] = [];
  for (let i = 0; i < n; i++) out.push(await connectNodeClient({ url, ...o }));
  return out;
}

/**
 * A TCP load balancer in front of a cluster's nodes, as a deployment puts one (docs/DEPLOY.md): each new
 * WebSocket connection goes to the node `route` names for it (counting WebSocket connections only: a client's
 * shard downloads are plain HTTP, sent to the last node), or to the next that accepts when that one refuses
 * (a dead node). A WebSocket-only client needs no sticky sessions: its one connection stays on one node.
 */
export async function startBalancer(nodes: readonly string[], route: (websocket: number) => number): Promise<{ url: string; close(): Promise<void> }> {
  const targets = nodes.map((u) => new URL(u));
  const open = new Set<Socket>();
  const track = (s: Socket) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  };
  let websockets = 0;
  const server = createServer((downstream) => {
    track(downstream);
    downstream.on('error', () => downstream.destroy());
    downstream.once('data', (first: Buffer) => {
      downstream.pause();
      const upgrade = /^upgrade:\s*websocket/im.test(first.toString('latin1'));
      const firstTarget = upgrade ? route(websockets++) : targets.length - 1;
      const attempt = (k: number) => {
        if (k === targets.length || downstream.destroyed) return void downstream.destroy();
        const t = targets[(firstTarget + k) % targets.length]!;
        const upstream = connect(Number(t.port), t.hostname);
        track(upstream);
        let connected = false;
        upstream.once('connect', () => {
          connected = true;
          if (downstream.destroyed) return void upstream.destroy();
          upstream.write(first);
          upstream.pipe(downstream);
          downstream.pipe(upstream);
          downstream.resume();
          upstream.once('close', () => downstream.destroy());
          downstream.once('close', () => upstream.destroy());
        });
        upstream.on('error', () => {
          if (connected) upstream.destroy();
          else attempt(k + 1);
        });
      };
      attempt(0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export type StartedNode = Awaited<ReturnType<typeof start>>;

/**
 * Nodes of one cluster (`hushfl start --store postgres://… --redis …`) on a fresh database of `postgres`:
 * `node(name)` starts one more (its data folder under `dir`), `stop()` ends the living ones and waits for them.
 */
export async function startCluster(o: {
  redis: LocalServer;
  postgres: LocalServer;
  database: string;
  dir: string;
  leaseMs: number;
  args?: readonly string[];
}): Promise<{ nodes: StartedNode[]; node(name: string): Promise<StartedNode>; stop(): Promise<void> }> {
  const store = await createDatabase(o.postgres, o.database);
  const nodes: StartedNode[] = [];
  const alive = (n: StartedNode) => n.child.exitCode === null && n.child.signalCode === null;
  return {
    nodes,
    async node(name) {
      const n = await start([
        ...(o.args ?? []),
        '--data',
        join(o.dir, name),
        '--store',
        store,
        '--redis',
        o.redis.url,
        '--node-id',
        name,
        '--leader-lease-ms',
        String(o.leaseMs),
      ]);
      nodes.push(n);
      return n;
    },
    async stop() {
      const living = nodes.filter(alive);
      const exited = living.map((n) => new Promise((r) => n.child.once('exit', r)));
      for (const n of living) n.child.kill('SIGTERM');
      await Promise.all(exited);
    },
  };
}
