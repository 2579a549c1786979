/**
 * A loopback HTTP server for browser tests that serves in-memory files, and optionally a folder from disk
 * beneath them, with the cross-origin isolation headers the client page uses (COOP same-origin, COEP
 * require-corp).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

export interface StaticServer {
  readonly url: string;
  close(): Promise<void>;
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

/** `files` by path, else (with `root`) the file of that path below root; never a path that leaves root. */
export async function serveFiles(files: Record<string, string | Buffer>, root?: string): Promise<StaticServer> {
  const base = root && (root.endsWith(sep) ? root : `${root}${sep}`);
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const name = path === '/' ? '/index.html' : path;
    let body = files[name];
    if (body === undefined && base) {
      const file = normalize(join(base, name));
      if (file.startsWith(base) && existsSync(file) && statSync(file).isFile()) body = readFileSync(file);
    }
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': types[extname(name)] ?? 'text/html; charset=utf-8',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cache-control': 'no-store',
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
