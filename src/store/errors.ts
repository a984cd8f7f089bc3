// Turns the many ways opening a store can fail into one error that names the path and the fix,
// because the person reading it is on a factory floor with a terminal, not a debugger.
import { userInfo } from "node:os";
import { dirname } from "node:path";
import { UserFacingError } from "../errors.js";
import { SchemaTooNewError } from "./schema.js";

/** The CLI prints a UserFacingError's message without a stack: the message carries the fix. */
export class StoreOpenError extends UserFacingError {
  constructor(
    readonly path: string,
    message: string,
    cause?: unknown,
  ) {
    super(message);
    if (cause !== undefined) this.cause = cause;
  }
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? "the service user"); // no passwd entry (containers)
  }
}

interface Explanation {
  problem: string;
  fix: string;
}

function explain(path: string, err: unknown): Explanation {
  const dir = dirname(path);
  const code = (err as { code?: unknown } | null)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  const elsewhere = "or set the store path to a writable location";
  if (err instanceof SchemaTooNewError) {
    return {
      problem: `it was written by a newer linesight (${detail})`,
      fix: "upgrade linesight on this device, or point the store at another file",
    };
  }
  switch (code) {
    case "EACCES":
    case "EPERM":
    case "SQLITE_CANTOPEN":
    case "SQLITE_READONLY":
    case "SQLITE_READONLY_DIRECTORY":
      return {
        problem: `permission denied or cannot create files in ${dir} (${detail})`,
        fix: `give ${currentUser()} (the user running linesight) write access to ${dir} and ${path} (e.g. sudo install -d -o ${currentUser()} ${dir}), ${elsewhere}`,
      };
    case "ENOTDIR":
    case "EEXIST":
    case "EISDIR":
      return {
        problem: `a part of the path is a file where a directory is needed, or the path is a directory (${detail})`,
        fix: `remove or rename what is in the way, ${elsewhere}`,
      };
    case "EROFS":
    case "SQLITE_READONLY_DBMOVED":
      return { problem: `the file system is read-only (${detail})`, fix: `remount it read-write, ${elsewhere}` };
    case "ENOSPC":
    case "SQLITE_FULL":
      return { problem: `the disk is full (${detail})`, fix: "free space on that disk or lower the store size limit" };
    case "SQLITE_NOTADB":
    case "SQLITE_CORRUPT":
      return {
        problem: `the file exists but is not a linesight SQLite database, or is damaged (${detail})`,
        fix: `move it aside (mv ${path} ${path}.bad) so a fresh store is created, or point the store at another file`,
      };
    default:
      return { problem: detail, fix: `check that ${path} is a writable SQLite file, ${elsewhere}` };
  }
}

/** Wraps any failure while opening the store at `path`. */
export function storeOpenError(path: string, err: unknown): StoreOpenError {
  if (err instanceof StoreOpenError) return err;
  const { problem, fix } = explain(path, err);
  return new StoreOpenError(path, `cannot open the sample store at ${path}: ${problem}. Fix: ${fix}.`, err);
}
