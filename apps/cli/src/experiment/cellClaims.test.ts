import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CellClaims } from './cellClaims.ts';

function setup() {
  const cells = join(mkdtempSync(join(tmpdir(), 'claims-')), 'utility.cells.jsonl');
  const claims = new CellClaims(cells);
  const file = (key: string) => join(`${cells}.claims`, `${key.replaceAll('/', '_')}.pid`);
  return { claims, file, dir: `${cells}.claims` };
}

/** A live Node process (another worker), killed at the end of `body`. */
async function withLiveNode(body: (pid: number) => void | Promise<void>): Promise<void> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    await body(child.pid!);
  } finally {
    child.kill();
  }
}

/** The pid of a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('CellClaims', () => {
  it('claims a free cell with its pid and a token, and gives it back', () => {
    const { claims, file } = setup();
    expect(claims.claim('ddg/16/8/1')).toBe(true);
    expect(readFileSync(file('ddg/16/8/1'), 'utf8')).toMatch(new RegExp(`^${process.pid} [0-9a-f]{16}$`));
    // Its own claim again: still held (by this run), not taken over.
    expect(claims.claim('ddg/16/8/1')).toBe(false);
    claims.release('ddg/16/8/1');
    expect(existsSync(file('ddg/16/8/1'))).toBe(false);
  });

  it('leaves a live worker’s claim alone, takes over a dead one’s and an earlier run’s under the same pid', async () => {
    const { claims, file } = setup();
    await withLiveNode((pid) => {
      writeFileSync(file('a'), String(pid));
      expect(claims.claim('a')).toBe(false);
      expect(readFileSync(file('a'), 'utf8')).toBe(String(pid));
    });
    writeFileSync(file('b'), String(deadPid()));
    expect(claims.claim('b')).toBe(true);
    writeFileSync(file('c'), `${process.pid} 0123456789abcdef`);
    expect(claims.claim('c')).toBe(true);
    writeFileSync(file('d'), 'torn');
    expect(claims.claim('d')).toBe(true);
    claims.releaseAll();
    expect(existsSync(file('b')) || existsSync(file('c')) || existsSync(file('d'))).toBe(false);
    expect(existsSync(file('a'))).toBe(true);
  });

  it('treats a live pid of another program as gone', async () => {
    const { claims, file } = setup();
    const sleeper = spawn('sleep', ['30']);
    try {
      writeFileSync(file('a'), String(sleeper.pid));
      expect(claims.claim('a')).toBe(true);
    } finally {
      sleeper.kill();
    }
  });

  it('takes a stale claim over only under the takeover lock', async () => {
    const { claims, file, dir } = setup();
    writeFileSync(file('a'), String(deadPid()));
    await withLiveNode((pid) => {
      writeFileSync(join(dir, '.takeover'), String(pid)); // a live worker is taking over
      expect(claims.claim('a')).toBe(false);
      expect(existsSync(join(dir, '.takeover'))).toBe(true);
    });
    writeFileSync(join(dir, '.takeover'), String(deadPid())); // a takeover cut short: cleared, then the next claim takes it
    expect(claims.claim('a')).toBe(false);
    expect(existsSync(join(dir, '.takeover'))).toBe(false);
    expect(claims.claim('a')).toBe(true);
    expect(existsSync(join(dir, '.takeover'))).toBe(false);
  });
});
