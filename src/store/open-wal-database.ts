// Opens (creating if needed) a SQLite database for writing in WAL mode, the way every linesight
// database is opened. Errors are raw: callers wrap them with storeOpenError for the path and fix.
import { accessSync, constants, existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";

export interface WalOptions {
  journalSizeLimitBytes: number;
  /** How long a write waits for another connection's lock before SQLITE_BUSY. */
  busyTimeoutMs: number;
}

export function openWalDatabase(path: string, opts: WalOptions): Database.Database {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  // WAL creates -wal and -shm files next to the database, so the directory must be writable.
  accessSync(dir, constants.W_OK);
  if (existsSync(path)) accessSync(path, constants.R_OK | constants.W_OK);
  const db = new Database(path);
  try {
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs}`);
    const mode = db.pragma("journal_mode = WAL", { simple: true }); // first read: NOTADB shows here
    if (mode !== "wal") throw new Error(`SQLite could not switch ${path} to WAL mode (got '${String(mode)}')`);
    // NORMAL in WAL: a kill -9 loses nothing committed; a power cut may lose the last commits but never corrupts.
    db.pragma("synchronous = NORMAL");
    // The WAL is reused after each checkpoint; this also shrinks it back after a big one.
    db.pragma(`journal_size_limit = ${opts.journalSizeLimitBytes}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
