// The synchronous SQLite side of the sample store. better-sqlite3 blocks the calling thread, so
// the daemon only uses this inside store-worker.ts; tests and CLI tools may use it directly.
import { statSync } from "node:fs";
import type Database from "better-sqlite3";
import { storeOpenError } from "./errors.js";
import { openWalDatabase } from "./open-wal-database.js";
import { migrate } from "./schema.js";
import { SAMPLE_REASONS, type SampleReason, type SampleRecord } from "./types.js";

export interface InsertResult {
  written: number;
  failed: number;
  /** First per-row error of the batch, for the log. */
  firstError?: string;
  /** Row id of each sample written, by frame seq (e.g. to answer a snapshot request with it). */
  ids: { seq: number; id: number }[];
}

export interface DbStats {
  samples: number;
  byReason: Record<SampleReason, number>;
  /** Samples with at least one label. */
  labeled: number;
  /** Database file plus WAL on disk. */
  dbBytes: number;
  /** Pages holding data: what retention compares with the limit (free pages get reused). */
  usedBytes: number;
}

/** Retention deletes down to this share of the limit, so it runs now and then, not per batch. */
export const RETENTION_TARGET = 0.9;
/** Rows per retention DELETE: keeps each write transaction short. */
const RETENTION_MAX_CHUNK = 500;

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export class SampleStore {
  private readonly insertRow;
  private readonly insertTx;
  private readonly deleteOldestUnlabeled;
  private readonly deleteOldest;

  private constructor(
    readonly path: string,
    readonly db: Database.Database,
    /** Schema versions before and after open. */
    readonly schema: { from: number; to: number },
  ) {
    this.insertRow = db.prepare(`
      INSERT INTO samples (captured_at, stored_at, seq, reason, action, uncertain, predicted, score, output,
        threshold, model_name, model_version, model_sha256, image_bytes, width, height, features, latency_ms,
        candidate_name, candidate_version, candidate_sha256, candidate_score, candidate_threshold, candidate_action, image)
      VALUES (@capturedAt, @storedAt, @seq, @reason, @action, @uncertain, @predicted, @score, @output,
        @threshold, @modelName, @modelVersion, @modelSha256, @imageBytes, @width, @height, @features, @latencyMs,
        @candidateName, @candidateVersion, @candidateSha256, @candidateScore, @candidateThreshold, @candidateAction, @image)`);
    this.insertTx = db.transaction((samples: readonly SampleRecord[], storedAt: number): InsertResult => {
      const result: InsertResult = { written: 0, failed: 0, ids: [] };
      for (const s of samples) {
        try {
          const { lastInsertRowid } = this.insertRow.run(toRow(s, storedAt));
          result.written++;
          result.ids.push({ seq: s.seq, id: Number(lastInsertRowid) });
        } catch (err) {
          // A bad row must not cost the batch; but SQLite aborts the whole transaction on I/O
          // errors or a full disk, and then there is nothing left to continue.
          if (!db.inTransaction) throw err;
          result.failed++;
          result.firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
      return result;
    });
    // Oldest first by capture time; labeled samples are people's work and go last.
    this.deleteOldestUnlabeled = db.prepare(`
      DELETE FROM samples WHERE id IN (
        SELECT id FROM samples AS s
        WHERE NOT EXISTS (SELECT 1 FROM labels AS l WHERE l.sample_id = s.id)
        ORDER BY captured_at, id LIMIT ?)`);
    this.deleteOldest = db.prepare(
      "DELETE FROM samples WHERE id IN (SELECT id FROM samples ORDER BY captured_at, id LIMIT ?)",
    );
  }

  /** Opens (creating directory and file if needed) and migrates. Throws StoreOpenError. */
  static open(path: string): SampleStore {
    try {
      // In the store worker, where waiting for a labeling tool's write lock costs no frame.
      const db = openWalDatabase(path, { journalSizeLimitBytes: 8 * 1024 * 1024, busyTimeoutMs: 5000 });
      try {
        db.pragma("foreign_keys = ON");
        return new SampleStore(path, db, migrate(db));
      } catch (err) {
        db.close();
        throw err;
      }
    } catch (err) {
      throw storeOpenError(path, err);
    }
  }

  /** All rows in one transaction; a row that violates the schema is counted, not fatal. */
  insertBatch(samples: readonly SampleRecord[], storedAt = Date.now()): InsertResult {
    return this.insertTx(samples, storedAt);
  }

  usedBytes(): number {
    const pages = this.db.pragma("page_count", { simple: true }) as number;
    const free = this.db.pragma("freelist_count", { simple: true }) as number;
    const pageSize = this.db.pragma("page_size", { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /**
   * When used pages exceed `maxBytes`, deletes the oldest unlabeled samples (then, only if none
   * are left, the oldest labeled ones) until under RETENTION_TARGET of it. Freed pages are
   * reused by later inserts, so the file stops growing without a VACUUM. Returns rows deleted.
   */
  enforceRetention(maxBytes: number): number {
    let used = this.usedBytes();
    if (used <= maxBytes) return 0;
    const target = maxBytes * RETENTION_TARGET;
    const rows = this.count();
    const rowBytes = rows > 0 ? used / rows : 1;
    let deleted = 0;
    while (used > target) {
      const chunk = Math.min(RETENTION_MAX_CHUNK, Math.max(1, Math.ceil((used - target) / rowBytes)));
      let n = this.deleteOldestUnlabeled.run(chunk).changes;
      if (n === 0) n = this.deleteOldest.run(chunk).changes;
      if (n === 0) break; // nothing left to delete; the rest is schema, labels and events
      deleted += n;
      used = this.usedBytes();
    }
    return deleted;
  }

  /** Database file plus WAL on disk (two stat calls; also valid after close). */
  diskBytes(): number {
    return fileSize(this.path) + fileSize(`${this.path}-wal`);
  }

  count(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM samples").get() as { n: number }).n;
  }

  stats(): DbStats {
    const byReason = Object.fromEntries(SAMPLE_REASONS.map((r) => [r, 0])) as Record<SampleReason, number>;
    let samples = 0;
    const rows = this.db.prepare("SELECT reason, count(*) AS n FROM samples GROUP BY reason").all() as {
      reason: SampleReason;
      n: number;
    }[];
    for (const { reason, n } of rows) {
      byReason[reason] = n;
      samples += n;
    }
    const labeled = (this.db.prepare("SELECT count(DISTINCT sample_id) AS n FROM labels").get() as { n: number }).n;
    return {
      samples,
      byReason,
      labeled,
      dbBytes: this.diskBytes(),
      usedBytes: this.usedBytes(),
    };
  }

  /** Records a label (a sample may be relabeled; the newest label wins). Returns the label id. */
  addLabel(sampleId: number, label: string, by: string, at = Date.now(), kind: string | null = null): number {
    try {
      const r = this.db
        .prepare("INSERT INTO labels (sample_id, label, labeled_by, labeled_at, kind) VALUES (?, ?, ?, ?, ?)")
        .run(sampleId, label, by, Math.round(at), kind);
      return Number(r.lastInsertRowid);
    } catch (err) {
      if ((err as { code?: string }).code === "SQLITE_CONSTRAINT_FOREIGNKEY") {
        throw new Error(`no sample with id ${sampleId} (deleted by retention?)`, { cause: err });
      }
      throw err;
    }
  }

  /** Folds the WAL back into the file and truncates it, so a copied .db file is complete. */
  close(): void {
    if (!this.db.open) return;
    try {
      this.db.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      this.db.close();
    }
  }
}

function toRow(s: SampleRecord, storedAt: number) {
  const image = s.image;
  return {
    // INTEGER columns are STRICT: round what callers may pass as fractional ms.
    capturedAt: Math.round(s.capturedAt),
    storedAt: Math.round(storedAt),
    seq: Math.round(s.seq),
    reason: s.reason,
    action: s.action,
    uncertain: s.uncertain ? 1 : 0,
    predicted: s.predicted,
    score: s.score,
    output: JSON.stringify(Array.from(s.output)),
    threshold: s.threshold,
    modelName: s.model.name,
    modelVersion: s.model.version,
    modelSha256: s.model.sha256,
    imageBytes: image.byteLength,
    width: Math.round(s.width),
    height: Math.round(s.height),
    features: s.features === undefined ? null : JSON.stringify(s.features),
    latencyMs: s.latencyMs,
    candidateName: s.candidate?.model.name ?? null,
    candidateVersion: s.candidate?.model.version ?? null,
    candidateSha256: s.candidate?.model.sha256 ?? null,
    candidateScore: s.candidate?.score ?? null,
    candidateThreshold: s.candidate?.threshold ?? null,
    candidateAction: s.candidate?.action ?? null,
    // better-sqlite3 binds Buffers as BLOBs; a message-passed image arrives as a plain Uint8Array.
    image: Buffer.from(image.buffer, image.byteOffset, image.byteLength),
  };
}
