/**
 * Claims on a grid's cells while they run, so that processes sharing one cells file never run a cell twice and
 * a worker that finishes its share takes over cells another has not started (the shares of a grid are uneven:
 * a DDG cell costs three baseline cells). A claim is a file holding its process's pid and a token of this run,
 * hard-linked into place (atomic on one file system, failing when the name exists); it is removed when the
 * cell is appended. A claim whose process is gone (killed, machine restarted) is stale and is taken over — by
 * one process at a time, under a takeover lock, so two workers that find it stale together do not both run it.
 * The caller checks the cells file again after a claim succeeds (the holder may have finished it just before).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class CellClaims {
  readonly #dir: string;
  readonly #pending: string;
  /** This process's claims: pid, then a random token (a pid reused after a restart is not this run). */
  readonly #stamp = `${process.pid} ${randomBytes(8).toString('hex')}`;
  readonly #mine = new Set<string>();

  /** Claims beside `cellsFile` (in `<cellsFile>.claims/`). */
  constructor(cellsFile: string) {
    this.#dir = `${cellsFile}.claims`;
    mkdirSync(this.#dir, { recursive: true });
    this.#pending = join(this.#dir, `.pending-${process.pid}`);
  }

  /** Claims the cell for this process: false when another live process holds it or is taking it over. */
  claim(key: string): boolean {
    const file = this.#file(key);
    if (this.#link(file)) {
      this.#mine.add(key);
      return true;
    }
    if (!this.#isStale(file)) return false;
    // Stale: taken over under the lock, and only if it is still the stale claim once the lock is held.
    const lock = join(this.#dir, '.takeover');
    if (!this.#link(lock)) {
      if (this.#isStale(lock)) rmSync(lock, { force: true }); // a takeover cut short; the next claim may take it
      return false;
    }
    try {
      if (!this.#isStale(file)) return false;
      rmSync(file, { force: true });
      if (!this.#link(file)) return false; // a plain claim got there between
      this.#mine.add(key);
      return true;
    } finally {
      rmSync(lock, { force: true });
    }
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

  /** Links this process's stamp in at `file` (written aside first: a claim is never seen empty); false if it exists. */
  #link(file: string): boolean {
    try {
      writeFileSync(this.#pending, this.#stamp);
      linkSync(this.#pending, file);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      return false;
    } finally {
      rmSync(this.#pending, { force: true });
    }
  }

  /** A claim (or the lock) whose holder is gone: not this run's, and its pid not a live grid process. */
  #isStale(file: string): boolean {
    let stamp: string;
    try {
      stamp = readFileSync(file, 'utf8').trim();
    } catch {
      return true; // removed meanwhile: the next link decides
    }
    if (stamp === this.#stamp) return false;
    const pid = Number(stamp.split(' ')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return true; // torn, or an earlier run with our pid
    return !isGridProcess(pid);
  }
}

/** The pid is alive and, where /proc tells, a Node process (a pid reused by another program is not a holder). */
function isGridProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; // EPERM: it exists under another user
  }
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return true;
  try {
    return /node|hushfl|vitest/.test(readFileSync(cmdline, 'utf8'));
  } catch {
    return true;
  }
}
