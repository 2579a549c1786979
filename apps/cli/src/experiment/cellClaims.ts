/**
 * Claims on a grid's cells while they run, so that processes sharing one cells file never run a cell twice and
 * a worker that finishes its share takes over cells another has not started (the shares of a grid are uneven:
 * a DDG cell costs three baseline cells). A claim is a file holding its process's pid, hard-linked into place
 * (atomic on one file system, failing when the name exists); it is removed when the cell is appended. A claim whose process is gone
 * (killed, machine restarted) is stale and is taken over.
 */
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class CellClaims {
  readonly #dir: string;
  readonly #pending: string;
  readonly #mine = new Set<string>();

  /** Claims beside `cellsFile` (in `<cellsFile>.claims/`). */
  constructor(cellsFile: string) {
    this.#dir = `${cellsFile}.claims`;
    mkdirSync(this.#dir, { recursive: true });
    this.#pending = join(this.#dir, `.pending-${process.pid}`);
  }

  /** Claims the cell for this process: false when a live process holds it. */
  claim(key: string): boolean {
    const file = this.#file(key);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        // Written aside, then linked into place (link fails if the name exists): a claim is never seen empty.
        writeFileSync(this.#pending, String(process.pid));
        linkSync(this.#pending, file);
        this.#mine.add(key);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        rmSync(this.#pending, { force: true });
      }
      if (isAlive(holderOf(file))) return false;
      rmSync(file, { force: true }); // stale: its process is gone
    }
    return false; // another process took the stale claim first
  }

  /** Gives the cell's claim back (it is finished, or will not run). */
  release(key: string): void {
    if (!this.#mine.delete(key)) return;
    rmSync(this.#file(key), { force: true });
  }

  /** Gives back every claim this process holds (an interrupted run). */
  releaseAll(): void {
    for (const key of [...this.#mine]) this.release(key);
  }

  #file(key: string): string {
    return join(this.#dir, `${key.replaceAll('/', '_')}.pid`);
  }
}

function holderOf(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null; // removed meanwhile, or torn: treated as stale
  }
}

function isAlive(pid: number | null): boolean {
  if (pid === null) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
