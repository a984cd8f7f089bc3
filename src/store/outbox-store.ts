import type Database from "better-sqlite3";
import { storeOpenError } from "./errors.js";
import { openWalDatabase } from "./open-wal-database.js";
import {
  checkLimits,
  DEFAULT_OUTBOX_LIMITS,
  type Outbox,
  type OutboxEntry,
  type OutboxLimits,
  type OutboxMessage,
} from "./outbox.js";
import { migrate } from "./schema.js";

export const OUTBOX_MIGRATIONS: readonly string[] = [
  // AUTOINCREMENT: ids never go back, even when the table empties, so a replay cursor ("everything
  // after id N") can never skip a message pushed after a full drain.
  `
  CREATE TABLE outbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    topic     TEXT    NOT NULL,
    body      TEXT    NOT NULL,
    queued_at INTEGER NOT NULL
  ) STRICT;
  `,
];

export class SqliteOutbox<N extends string = string> implements Outbox<N> {
  private readonly insert;
  private readonly select;
  private readonly del;
  private readonly oldest;
  private readonly anyOf;
  private count: number;
  private byteCount: number;
  private droppedCount = 0;

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
    private readonly limits: OutboxLimits,
  ) {
    this.insert = db.prepare("INSERT INTO outbox (topic, body, queued_at) VALUES (?, ?, ?)");
    this.select = db.prepare("SELECT id, topic AS name, body FROM outbox WHERE id > ? ORDER BY id LIMIT ?");
    this.del = db.prepare("DELETE FROM outbox WHERE id = ? RETURNING length(CAST(body AS BLOB)) AS n");
    this.oldest = db.prepare(
      "DELETE FROM outbox WHERE id = (SELECT min(id) FROM outbox) RETURNING length(CAST(body AS BLOB)) AS n",
    );
    this.anyOf = db.prepare("SELECT 1 FROM outbox WHERE topic = ? LIMIT 1");
    const totals = db
      .prepare("SELECT count(*) AS n, coalesce(sum(length(CAST(body AS BLOB))), 0) AS b FROM outbox")
      .get() as {
      n: number;
      b: number;
    };
    this.count = totals.n;
    this.byteCount = totals.b;
  }

  /** Opens (creating if needed) the outbox at `path`; messages left by a previous run are kept. */
  static open<N extends string = string>(path: string, limits: OutboxLimits = DEFAULT_OUTBOX_LIMITS): SqliteOutbox<N> {
    checkLimits(limits);
    try {
      // No busy wait: this is the main thread, and only the daemon writes here.
      const db = openWalDatabase(path, { journalSizeLimitBytes: 4 * 1024 * 1024, busyTimeoutMs: 0 });
      try {
        migrate(db, OUTBOX_MIGRATIONS);
        const outbox = new SqliteOutbox<N>(path, db, limits);
        outbox.trim(); // the limits may have been lowered since the last run
        return outbox;
      } catch (err) {
        db.close();
        throw err;
      }
    } catch (err) {
      throw storeOpenError(path, err);
    }
  }

  push(m: OutboxMessage<N>): void {
    this.insert.run(m.name, m.body, Date.now());
    this.count++;
    this.byteCount += Buffer.byteLength(m.body);
    this.trim();
  }

  next(afterId: number, limit: number): OutboxEntry<N>[] {
    return this.select.all(afterId, limit) as OutboxEntry<N>[];
  }

  remove(id: number): void {
    const row = this.del.get(id) as { n: number } | undefined;
    if (!row) return;
    this.count--;
    this.byteCount -= row.n;
  }

  has(name: N): boolean {
    return this.anyOf.get(name) !== undefined;
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.byteCount;
  }

  get dropped(): number {
    return this.droppedCount;
  }

  /** The highest id ever given out (ids never go back, even after the table emptied); 0 if none. */
  lastId(): number {
    const row = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").get() as
      | { seq: number }
      | undefined;
    return row?.seq ?? 0;
  }

  /** Time the oldest waiting message was queued (ms since epoch), or null when empty. */
  oldestQueuedAt(): number | null {
    const row = this.db.prepare("SELECT min(queued_at) AS t FROM outbox").get() as { t: number | null };
    return row.t;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private trim(): void {
    while (this.count > this.limits.maxMessages || this.byteCount > this.limits.maxBytes) {
      const row = this.oldest.get() as { n: number } | undefined;
      if (!row) break;
      this.count--;
      this.byteCount -= row.n;
      this.droppedCount++;
    }
  }
}
