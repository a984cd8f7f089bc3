// Database schema as ordered migration steps. Step i (0-based) brings the database from
// `PRAGMA user_version` i to i + 1, inside one transaction, so a power cut leaves either the old
// or the new version, never half of a step. Append new steps; never edit shipped ones.
import type { Database } from "better-sqlite3";

export const MIGRATIONS: readonly string[] = [
  // v1. STRICT: wrong types are refused at insert instead of silently stored for labelers to
  // trip on later (SQLite >= 3.37; Debian 12 ships 3.40). `image` is the LAST column on
  // purpose: columns after a large BLOB live in its overflow pages, so every read of them would
  // walk the whole image.
  `
  CREATE TABLE samples (
    id            INTEGER PRIMARY KEY,
    captured_at   INTEGER NOT NULL,
    stored_at     INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    reason        TEXT    NOT NULL CHECK (reason IN ('reject', 'uncertain', 'audit', 'ood', 'snapshot')),
    action        TEXT    NOT NULL CHECK (action IN ('pass', 'reject')),
    uncertain     INTEGER NOT NULL CHECK (uncertain IN (0, 1)),
    predicted     TEXT    NOT NULL,
    score         REAL    NOT NULL,
    output        TEXT    NOT NULL CHECK (json_valid(output) AND json_type(output) = 'array'),
    threshold     REAL    NOT NULL,
    model_name    TEXT    NOT NULL,
    model_version TEXT    NOT NULL,
    model_sha256  TEXT    NOT NULL,
    image_bytes   INTEGER NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    features      TEXT    CHECK (features IS NULL OR (json_valid(features) AND json_type(features) = 'object')),
    latency_ms    REAL    NOT NULL,
    exported_at   INTEGER,
    image         BLOB    NOT NULL
  ) STRICT;
  -- Labeling queue ("uncertain ones, newest first") and count-by-reason (covering).
  CREATE INDEX samples_reason_captured ON samples (reason, captured_at);
  -- Retention walks samples oldest first.
  CREATE INDEX samples_captured ON samples (captured_at);

  CREATE TABLE labels (
    id         INTEGER PRIMARY KEY,
    sample_id  INTEGER NOT NULL REFERENCES samples (id) ON DELETE CASCADE,
    label      TEXT    NOT NULL,
    labeled_by TEXT    NOT NULL,
    labeled_at INTEGER NOT NULL
  ) STRICT;
  -- Also serves the foreign key: deleting a sample looks up its labels.
  CREATE INDEX labels_sample ON labels (sample_id);

  CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    type     TEXT    NOT NULL,
    severity TEXT    NOT NULL,
    message  TEXT    NOT NULL,
    data     TEXT    CHECK (data IS NULL OR json_valid(data))
  ) STRICT;
  CREATE INDEX events_at ON events (at);
  `,
  // v2. The defect kind a labeler named (crack, chip, ...; the manifest's defect_kinds or
  // "other"): recall per kind in the audit, and retraining sees it. NULL: not named.
  `
  ALTER TABLE labels ADD COLUMN kind TEXT CHECK (kind IS NULL OR length(kind) BETWEEN 1 AND 32);
  `,
  // v3. Shadow mode: the `disagreement` reason and the shadow candidate's decision of the frame
  // (null for every other sample). SQLite cannot change a CHECK constraint in place, so the table
  // is rebuilt (SQLite's documented procedure; migrate() turns foreign keys off around it so the
  // labels survive) with the new columns before the image. Once, on the first start after an
  // upgrade: it needs free disk space for a copy of the samples.
  `
  CREATE TABLE samples_v2 (
    id                  INTEGER PRIMARY KEY,
    captured_at         INTEGER NOT NULL,
    stored_at           INTEGER NOT NULL,
    seq                 INTEGER NOT NULL,
    reason              TEXT    NOT NULL CHECK (reason IN ('reject', 'uncertain', 'audit', 'ood', 'snapshot', 'disagreement')),
    action              TEXT    NOT NULL CHECK (action IN ('pass', 'reject')),
    uncertain           INTEGER NOT NULL CHECK (uncertain IN (0, 1)),
    predicted           TEXT    NOT NULL,
    score               REAL    NOT NULL,
    output              TEXT    NOT NULL CHECK (json_valid(output) AND json_type(output) = 'array'),
    threshold           REAL    NOT NULL,
    model_name          TEXT    NOT NULL,
    model_version       TEXT    NOT NULL,
    model_sha256        TEXT    NOT NULL,
    image_bytes         INTEGER NOT NULL,
    width               INTEGER NOT NULL,
    height              INTEGER NOT NULL,
    features            TEXT    CHECK (features IS NULL OR (json_valid(features) AND json_type(features) = 'object')),
    latency_ms          REAL    NOT NULL,
    exported_at         INTEGER,
    candidate_name      TEXT,
    candidate_version   TEXT,
    candidate_sha256    TEXT,
    candidate_score     REAL,
    candidate_threshold REAL,
    candidate_action    TEXT    CHECK (candidate_action IS NULL OR candidate_action IN ('pass', 'reject')),
    image               BLOB    NOT NULL
  ) STRICT;
  INSERT INTO samples_v2 (id, captured_at, stored_at, seq, reason, action, uncertain, predicted, score, output, threshold,
    model_name, model_version, model_sha256, image_bytes, width, height, features, latency_ms, exported_at, image)
    SELECT id, captured_at, stored_at, seq, reason, action, uncertain, predicted, score, output, threshold,
    model_name, model_version, model_sha256, image_bytes, width, height, features, latency_ms, exported_at, image FROM samples;
  DROP TABLE samples;
  ALTER TABLE samples_v2 RENAME TO samples;
  CREATE INDEX samples_reason_captured ON samples (reason, captured_at);
  CREATE INDEX samples_captured ON samples (captured_at);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export class SchemaTooNewError extends Error {
  override readonly name = "SchemaTooNewError";
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(`database schema is version ${found}, but this linesight only knows up to version ${known}`);
  }
}

export function userVersion(db: Database): number {
  return db.pragma("user_version", { simple: true }) as number;
}

/** Applies the missing steps; returns the versions before and after. Safe to call on every open. */
export function migrate(db: Database, steps: readonly string[] = MIGRATIONS): { from: number; to: number } {
  const from = userVersion(db);
  if (from > steps.length) throw new SchemaTooNewError(from, steps.length);
  if (from === steps.length) return { from, to: from };
  // A step that rebuilds a table drops the old one: with foreign keys on, that would delete the
  // rows referring to it (labels). Off around the steps (it cannot change inside a transaction),
  // and each step checks the references before it commits.
  const foreignKeys = db.pragma("foreign_keys", { simple: true }) === 1;
  if (foreignKeys) db.pragma("foreign_keys = OFF");
  try {
    for (let v = from; v < steps.length; v++) {
      // IMMEDIATE takes the write lock first; re-reading the version inside it means a second
      // process opening the same file at the same moment skips the step instead of failing on it.
      db.transaction(() => {
        if (userVersion(db) !== v) return;
        db.exec(steps[v] as string);
        const broken = db.pragma("foreign_key_check") as unknown[];
        if (broken.length > 0) throw new Error(`schema step ${v + 1} left ${broken.length} broken references`);
        db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  } finally {
    if (foreignKeys) db.pragma("foreign_keys = ON");
  }
  return { from, to: userVersion(db) };
}
