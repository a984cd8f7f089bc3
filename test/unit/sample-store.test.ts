import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BoundedQueue } from "../../src/store/bounded-queue.js";
import { StoreOpenError } from "../../src/store/errors.js";
import { SampleCatalog } from "../../src/store/sample-catalog.js";
import { NO_FILTER } from "../../src/store/sample-filter.js";
import { SampleStore } from "../../src/store/sample-store.js";
import { MIGRATIONS, migrate, SCHEMA_VERSION, userVersion } from "../../src/store/schema.js";
import type { SampleRecord } from "../../src/store/types.js";
import { IMAGE_BYTES, makeSample } from "../fixtures/store-samples.js";

let dir: string;
let open: SampleStore[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "linesight-store-"));
  open = [];
});
afterEach(() => {
  for (const s of open) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function store(name = "samples.db"): SampleStore {
  const s = SampleStore.open(join(dir, name));
  open.push(s);
  return s;
}

function batch(from: number, n: number, overrides = {}) {
  return Array.from({ length: n }, (_, i) => makeSample(from + i, overrides));
}

const names = (db: Database.Database, type: string) =>
  (
    db
      .prepare("SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all(type) as { name: string }[]
  ).map((r) => r.name);

describe("schema migrations", () => {
  it("create the tables and indexes and set user_version", () => {
    const s = store();
    expect(names(s.db, "table")).toEqual(["events", "labels", "samples"]);
    expect(names(s.db, "index")).toEqual(["events_at", "labels_sample", "samples_captured", "samples_reason_captured"]);
    expect(userVersion(s.db)).toBe(SCHEMA_VERSION);
    expect(s.schema).toEqual({ from: 0, to: SCHEMA_VERSION });
  });

  it("are idempotent: reopening applies nothing and keeps the data", () => {
    const path = join(dir, "samples.db");
    const a = SampleStore.open(path);
    a.insertBatch(batch(0, 3));
    a.close();
    const b = store();
    expect(b.schema).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    expect(migrate(b.db)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    expect(b.count()).toBe(3);
  });

  it("bring a first-release database up to date, its labels kept (kind unnamed)", () => {
    const path = join(dir, "v1.db");
    const store = SampleStore.open(path);
    store.insertBatch([makeSample(1)]);
    const id = (store.db.prepare("SELECT id FROM samples").get() as { id: number }).id;
    store.addLabel(id, "defect", "ann");
    store.close();
    // As the first release left it; then the labeling page or an export opens it before the
    // new daemon has run: it is migrated.
    const old = new Database(path);
    old.pragma("user_version = 1");
    old.exec("ALTER TABLE labels DROP COLUMN kind");
    old.close();
    const catalog = SampleCatalog.open(path);
    expect(userVersion(catalog.db)).toBe(SCHEMA_VERSION);
    expect(catalog.list(NO_FILTER, 10)).toMatchObject([{ id, label: "defect", label_kind: null }]);
    catalog.close();
  });

  it("apply each step in one transaction: a failing step leaves the previous version intact", () => {
    const db = new Database(":memory:");
    const steps = ["CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y INTEGER); INSERT INTO nope VALUES (1)"];
    expect(() => migrate(db, steps)).toThrow(/nope/);
    expect(userVersion(db)).toBe(1);
    expect(names(db, "table")).toEqual(["a"]); // table b was rolled back with its step
    db.close();
  });

  it("refuse a database written by a newer version, naming the path and the fix", () => {
    const path = join(dir, "newer.db");
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    let err: unknown;
    try {
      SampleStore.open(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreOpenError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toMatch(
      new RegExp(`newer linesight .*version ${SCHEMA_VERSION + 1}.*version ${SCHEMA_VERSION}.*upgrade`, "s"),
    );
  });

  it("bring a version 1 database (before shadow mode) to the current one, keeping its samples and labels", () => {
    const path = join(dir, "v1.db");
    const old = new Database(path);
    migrate(old, MIGRATIONS.slice(0, 1));
    old.pragma("foreign_keys = ON");
    const insert = old.prepare(`INSERT INTO samples (captured_at, stored_at, seq, reason, action, uncertain, predicted,
      score, output, threshold, model_name, model_version, model_sha256, image_bytes, width, height, features,
      latency_ms, image) VALUES (?, 1, ?, 'reject', 'reject', 0, 'defect', 0.9, '[0.9]', 0.5, 'm', '1.0.0', ?, 3, 8, 8,
      NULL, 2.5, x'010203')`);
    for (let i = 0; i < 3; i++) insert.run(1000 + i, i, "ab".repeat(32));
    old.prepare("INSERT INTO labels (sample_id, label, labeled_by, labeled_at) VALUES (2, 'good', 'ana', 5)").run();
    old.close();

    const s = store("v1.db");
    expect(s.schema).toEqual({ from: 1, to: SCHEMA_VERSION });
    expect(s.count()).toBe(3);
    // The labels survived the rebuild of the table they refer to, and still cascade.
    expect(s.db.prepare("SELECT sample_id, label FROM labels").all()).toEqual([{ sample_id: 2, label: "good" }]);
    expect(s.db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(s.db.prepare("SELECT seq, candidate_score, image FROM samples WHERE id = 2").get()).toEqual({
      seq: 1,
      candidate_score: null,
      image: Buffer.from([1, 2, 3]),
    });
    expect(names(s.db, "index")).toEqual(["events_at", "labels_sample", "samples_captured", "samples_reason_captured"]);
    s.db.prepare("DELETE FROM samples WHERE id = 2").run();
    expect(s.db.prepare("SELECT count(*) AS n FROM labels").get()).toEqual({ n: 0 });
  });

  it("ships at least one step and never an empty one", () => {
    expect(MIGRATIONS.length).toBe(SCHEMA_VERSION);
    for (const step of MIGRATIONS) expect(step.trim()).not.toBe("");
  });
});

describe("opening", () => {
  it("sets WAL, synchronous=NORMAL, foreign keys and a busy timeout", () => {
    const s = store();
    expect(s.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(s.db.pragma("synchronous", { simple: true })).toBe(1);
    expect(s.db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(s.db.pragma("busy_timeout", { simple: true })).toBe(5000);
  });

  it("creates missing directories", () => {
    const s = SampleStore.open(join(dir, "a", "b", "samples.db"));
    open.push(s);
    expect(s.count()).toBe(0);
  });

  it("gives StoreOpenError with the path when the directory cannot be created", () => {
    writeFileSync(join(dir, "plain-file"), "x");
    const path = join(dir, "plain-file", "sub", "samples.db"); // ENOTDIR, even for root
    expect(() => SampleStore.open(path)).toThrow(StoreOpenError);
    expect(() => SampleStore.open(path)).toThrow(new RegExp(`${path}.*Fix:`));
  });

  it("gives StoreOpenError with the path when the file is not a database", () => {
    const path = join(dir, "garbage.db");
    writeFileSync(path, Buffer.alloc(8192, 7));
    expect(() => SampleStore.open(path)).toThrow(StoreOpenError);
    expect(() => SampleStore.open(path)).toThrow(/not a linesight SQLite database.*mv /);
  });
});

describe("disagreement samples (shadow mode)", () => {
  it("store the candidate's identity, score, threshold and action beside the active model's", () => {
    const s = store();
    const candidate = {
      model: { name: "round-parts", version: "1.1.0", sha256: "cd".repeat(32) },
      score: 0.97,
      threshold: 0.95,
      action: "reject" as const,
    };
    const r = s.insertBatch([makeSample(7, { reason: "disagreement", action: "pass", candidate }), makeSample(8)]);
    expect(r).toMatchObject({ written: 2, failed: 0 });
    const rows = s.db
      .prepare(
        `SELECT reason, action, candidate_name, candidate_version, candidate_sha256, candidate_score,
         candidate_threshold, candidate_action FROM samples ORDER BY seq`,
      )
      .all();
    expect(rows).toEqual([
      {
        reason: "disagreement",
        action: "pass",
        candidate_name: "round-parts",
        candidate_version: "1.1.0",
        candidate_sha256: "cd".repeat(32),
        candidate_score: 0.97,
        candidate_threshold: 0.95,
        candidate_action: "reject",
      },
      expect.objectContaining({ candidate_name: null, candidate_score: null, candidate_action: null }),
    ]);
    expect(s.stats().byReason.disagreement).toBe(1);
  });
});

describe("insertBatch and stats", () => {
  it("stores every field and counts by reason", () => {
    const s = store();
    const samples = batch(0, 6);
    const r = s.insertBatch(samples, 1_800_000_000_000);
    expect(r).toMatchObject({ written: 6, failed: 0 });
    // Each written sample's row id, by frame seq.
    expect(r.ids.map((x) => x.seq)).toEqual(samples.map((x) => x.seq));
    for (const { seq, id } of r.ids)
      expect(s.db.prepare("SELECT seq FROM samples WHERE id = ?").get(id)).toEqual({ seq });
    const st = s.stats();
    expect(st.samples).toBe(6);
    expect(st.byReason).toEqual({ reject: 2, uncertain: 2, audit: 2, ood: 0, snapshot: 0, disagreement: 0 });
    expect(st.labeled).toBe(0);
    expect(st.usedBytes).toBeGreaterThan(6 * IMAGE_BYTES);
    expect(st.dbBytes).toBeGreaterThan(6 * IMAGE_BYTES);

    const row = s.db.prepare("SELECT * FROM samples WHERE seq = 1").get() as Record<string, unknown>;
    const src = samples[1] as SampleRecord;
    expect(row).toMatchObject({
      captured_at: src.capturedAt,
      stored_at: 1_800_000_000_000,
      reason: "uncertain",
      action: "pass",
      uncertain: 1,
      predicted: "ok",
      threshold: 0.5,
      model_name: "round-parts",
      model_version: "1.2.0",
      model_sha256: "ab".repeat(32),
      image_bytes: IMAGE_BYTES,
      width: 224,
      height: 224,
      latency_ms: 41.7,
      exported_at: null,
    });
    expect(JSON.parse(row.output as string)).toEqual(src.output);
    expect(JSON.parse(row.features as string)).toEqual(src.features);
    expect(Buffer.compare(row.image as Buffer, Buffer.from(src.image))).toBe(0);
  });

  it("stores NULL features when there are none and rounds fractional ms", () => {
    const s = store();
    s.insertBatch([makeSample(0, { features: undefined, capturedAt: 1000.6 })], 5.4);
    const row = s.db.prepare("SELECT features, captured_at, stored_at FROM samples").get();
    expect(row).toEqual({ features: null, captured_at: 1001, stored_at: 5 });
  });

  it("counts a row the schema refuses without losing the rest of the batch", () => {
    const s = store();
    const bad = makeSample(1, { reason: "bogus" as never });
    const r = s.insertBatch([makeSample(0), bad, makeSample(2)]);
    expect(r.written).toBe(2);
    expect(r.failed).toBe(1);
    expect(r.firstError).toMatch(/CHECK constraint/);
    expect(r.ids.map((x) => x.seq)).toEqual([0, 2]);
    expect(s.count()).toBe(2);
  });
});

describe("labels", () => {
  it("adds labels and refuses a missing sample clearly", () => {
    const s = store();
    s.insertBatch(batch(0, 2));
    const id = (s.db.prepare("SELECT min(id) AS id FROM samples").get() as { id: number }).id;
    expect(s.addLabel(id, "scratch", "ana")).toBeGreaterThan(0);
    expect(s.stats().labeled).toBe(1);
    expect(() => s.addLabel(9999, "ok", "ana")).toThrow(/no sample with id 9999/);
  });
});

describe("retention", () => {
  const ids = (s: SampleStore) =>
    (s.db.prepare("SELECT seq FROM samples ORDER BY seq").all() as { seq: number }[]).map((r) => r.seq);

  it("does nothing under the limit", () => {
    const s = store();
    s.insertBatch(batch(0, 10));
    expect(s.enforceRetention(s.usedBytes() + 1)).toBe(0);
    expect(s.count()).toBe(10);
  });

  it("deletes the oldest unlabeled samples first and keeps labeled ones", () => {
    const s = store();
    s.insertBatch(batch(0, 40));
    // Label the two oldest: they must survive although they are the oldest.
    for (const seq of [0, 1]) {
      const { id } = s.db.prepare("SELECT id FROM samples WHERE seq = ?").get(seq) as { id: number };
      s.addLabel(id, "ok", "ana");
    }
    const max = Math.floor(s.usedBytes() * 0.5);
    const deleted = s.enforceRetention(max);
    expect(deleted).toBeGreaterThan(15);
    expect(s.usedBytes()).toBeLessThanOrEqual(max * 0.9);
    const left = ids(s);
    expect(left.slice(0, 2)).toEqual([0, 1]);
    // The survivors are the newest unlabeled ones: a contiguous tail.
    const unlabeled = left.slice(2);
    expect(unlabeled).toEqual(Array.from({ length: unlabeled.length }, (_, i) => 40 - unlabeled.length + i));
    expect(deleted).toBe(40 - left.length);
  });

  it("deletes labeled samples (oldest first, labels with them) only when nothing unlabeled is left", () => {
    const s = store();
    s.insertBatch(batch(0, 20));
    for (const { id } of s.db.prepare("SELECT id FROM samples").all() as { id: number }[]) s.addLabel(id, "ok", "ana");
    const max = Math.floor(s.usedBytes() * 0.5);
    expect(s.enforceRetention(max)).toBeGreaterThan(0);
    const left = ids(s);
    expect(left[left.length - 1]).toBe(19);
    expect(left[0]).toBeGreaterThan(5);
    const orphans = s.db
      .prepare("SELECT count(*) AS n FROM labels WHERE sample_id NOT IN (SELECT id FROM samples)")
      .get();
    expect(orphans).toEqual({ n: 0 }); // ON DELETE CASCADE
  });

  it("keeps the file bounded over many insert/delete cycles: freed pages are reused, no VACUUM", () => {
    const s = store();
    const max = 2 * 1024 * 1024; // ~130 samples of 15 KB
    const sizes: number[] = [];
    let seq = 0;
    for (let cycle = 0; cycle < 60; cycle++) {
      s.insertBatch(batch(seq, 32)); // 60 x 32 x 15 KB = ~28 MB written in total
      seq += 32;
      s.enforceRetention(max);
      sizes.push(
        (s.db.pragma("page_count", { simple: true }) as number) *
          (s.db.pragma("page_size", { simple: true }) as number),
      );
    }
    // The file only grows past the limit by about one batch (inserted before retention runs).
    const ceiling = max + 32 * (IMAGE_BYTES + 4096) + 64 * 1024;
    expect(Math.max(...sizes)).toBeLessThanOrEqual(ceiling);
    // After the first fill it stops growing at all.
    expect(sizes[sizes.length - 1]).toBe(Math.max(...sizes.slice(0, 20)));
    expect(s.count()).toBeLessThan(140);
    expect(s.count()).toBeGreaterThan(100);
    const wal = statSync(`${join(dir, "samples.db")}-wal`).size;
    expect(wal).toBeLessThanOrEqual(8 * 1024 * 1024 + 1024 * 1024);
  });
});

describe("close", () => {
  it("checkpoints the WAL into the file and truncates it", () => {
    const path = join(dir, "samples.db");
    const s = SampleStore.open(path);
    s.insertBatch(batch(0, 10));
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
    s.close();
    s.close(); // idempotent
    let wal = 0;
    try {
      wal = statSync(`${path}-wal`).size;
    } catch {}
    expect(wal).toBe(0);
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT count(*) AS n FROM samples").get()).toEqual({ n: 10 });
    db.close();
  });
});

describe("BoundedQueue", () => {
  it("is FIFO across the wrap-around and refuses when full", () => {
    const q = new BoundedQueue<number>(3);
    expect([q.push(1), q.push(2), q.push(3), q.push(4)]).toEqual([true, true, true, false]);
    expect(q.take(2)).toEqual([1, 2]);
    expect([q.push(5), q.push(6), q.push(7)]).toEqual([true, true, false]);
    expect(q.length).toBe(3);
    expect(q.take(10)).toEqual([3, 5, 6]);
    expect(q.take(1)).toEqual([]);
  });

  it("rejects a nonsensical capacity", () => {
    expect(() => new BoundedQueue(0)).toThrow(RangeError);
  });
});
