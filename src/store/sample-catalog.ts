// Reading and labeling stored samples: the labeling page's queries (through catalog-worker.ts)
// and the export. Synchronous (better-sqlite3) on its own connection; the database is WAL, so
// reads never wait for the store worker's inserts, and label writes wait at most busy_timeout.
import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import { type AuditCounts, tallyAudit } from "../monitor/audit-accuracy.js";
import { StoreOpenError, storeOpenError } from "./errors.js";
import { filterToSql, LATEST_LABEL_JOIN, type SampleFilter } from "./sample-filter.js";
import { migrate } from "./schema.js";
import type { SampleReason } from "./types.js";

/** A sample without its image: what a list or a manifest line shows. */
export interface SampleSummary {
  id: number;
  captured_at: number;
  seq: number;
  reason: SampleReason;
  action: "pass" | "reject";
  uncertain: boolean;
  predicted: string;
  score: number;
  threshold: number;
  model_name: string;
  model_version: string;
  width: number;
  height: number;
  image_bytes: number;
  exported_at: number | null;
  label: string | null;
  labeled_by: string | null;
  labeled_at: number | null;
  /** The defect kind the labeler named, if any. */
  label_kind: string | null;
  /** The shadow candidate's decision of the frame (disagreement samples); null for other samples. */
  candidate_name: string | null;
  candidate_version: string | null;
  candidate_sha256: string | null;
  candidate_score: number | null;
  candidate_threshold: number | null;
  candidate_action: "pass" | "reject" | null;
}

export const SUMMARY_COLUMNS = `s.id, s.captured_at, s.seq, s.reason, s.action, s.uncertain, s.predicted, s.score,
  s.threshold, s.model_name, s.model_version, s.width, s.height, s.image_bytes, s.exported_at,
  l.label, l.labeled_by, l.labeled_at, l.kind AS label_kind,
  s.candidate_name, s.candidate_version, s.candidate_sha256, s.candidate_score,
  s.candidate_threshold, s.candidate_action`;

type Row = Omit<SampleSummary, "uncertain"> & { uncertain: number };

export function toSummary(r: Row): SampleSummary {
  return { ...r, uncertain: r.uncertain === 1 };
}

export class SampleCatalog {
  private constructor(readonly db: Database.Database) {}

  /**
   * Opens an existing database written by the daemon (never creates one). Writable opens bring
   * an older schema up to date (a database the previous release wrote, exported before the new
   * daemon ever ran), as the daemon would.
   */
  static open(path: string, opts: { readonly?: boolean } = {}): SampleCatalog {
    if (!existsSync(path))
      throw new StoreOpenError(
        path,
        `no sample database at ${path}: the daemon creates it on its first start; give --db, or --config with the right storage.path`,
      );
    try {
      const db = new Database(path, { fileMustExist: true, readonly: opts.readonly ?? false });
      db.pragma("busy_timeout = 5000");
      if (!opts.readonly) {
        db.pragma("foreign_keys = ON");
        migrate(db);
      }
      return new SampleCatalog(db);
    } catch (err) {
      throw storeOpenError(path, err);
    }
  }

  /** Newest first; `before` (an id) pages on without OFFSET's rescans. */
  list(filter: SampleFilter, limit: number, before: number | null = null): SampleSummary[] {
    const { where, params } = filterToSql(filter);
    const page = before === null ? "" : `${where ? " AND" : "WHERE"} s.id < ?`;
    const rows = this.db
      .prepare(
        `SELECT ${SUMMARY_COLUMNS} FROM samples AS s ${LATEST_LABEL_JOIN} ${where}${page} ORDER BY s.id DESC LIMIT ?`,
      )
      .all(...params, ...(before === null ? [] : [before]), limit) as Row[];
    return rows.map(toSummary);
  }

  count(filter: SampleFilter): number {
    const { where, params } = filterToSql(filter);
    return (
      this.db.prepare(`SELECT count(*) AS n FROM samples AS s ${LATEST_LABEL_JOIN} ${where}`).get(...params) as {
        n: number;
      }
    ).n;
  }

  image(id: number): Buffer | null {
    const row = this.db.prepare("SELECT image FROM samples WHERE id = ?").get(id) as { image: Buffer } | undefined;
    return row?.image ?? null;
  }

  /**
   * One label row per sample, all in one transaction, with the defect kind when the labeler
   * named one. Returns the label ids (for undo).
   */
  addLabels(
    sampleIds: readonly number[],
    label: string,
    by: string,
    at = Date.now(),
    kind: string | null = null,
  ): number[] {
    const insert = this.db.prepare(
      "INSERT INTO labels (sample_id, label, labeled_by, labeled_at, kind) SELECT id, ?, ?, ?, ? FROM samples WHERE id = ?",
    );
    return this.db.transaction(() => {
      const ids: number[] = [];
      for (const id of sampleIds) {
        const r = insert.run(label, by, Math.round(at), kind, id);
        if (r.changes === 0) throw new CatalogError(`no sample with id ${id} (deleted by retention?)`);
        ids.push(Number(r.lastInsertRowid));
      }
      return ids;
    })();
  }

  /** Removes label rows (undo); the sample falls back to its previous label, if any. */
  removeLabels(labelIds: readonly number[]): number {
    const del = this.db.prepare("DELETE FROM labels WHERE id = ?");
    return this.db.transaction(() => labelIds.reduce((n, id) => n + del.run(id).changes, 0))();
  }

  /** Labeled audit samples by what the line did and what people said. */
  auditCounts(goodLabel: string): AuditCounts {
    const rows = this.db
      .prepare(
        `SELECT s.action = 'reject' AS rejected, l.label AS label, l.kind AS kind FROM samples AS s ${LATEST_LABEL_JOIN}
         WHERE s.reason = 'audit' AND l.id IS NOT NULL`,
      )
      .iterate() as IterableIterator<{ rejected: number; label: string; kind: string | null }>;
    return tallyAudit(
      (function* () {
        for (const r of rows) yield { rejected: r.rejected === 1, label: r.label, kind: r.kind };
      })(),
      goodLabel,
    );
  }

  markExported(ids: readonly number[], at = Date.now()): void {
    const mark = this.db.prepare("UPDATE samples SET exported_at = ? WHERE id = ?");
    const CHUNK = 500; // short write transactions: the store worker is writing too
    for (let i = 0; i < ids.length; i += CHUNK) {
      this.db.transaction(() => {
        for (const id of ids.slice(i, i + CHUNK)) mark.run(Math.round(at), id);
      })();
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export class CatalogError extends Error {
  override readonly name = "CatalogError";
}
