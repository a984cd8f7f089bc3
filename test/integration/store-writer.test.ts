// SampleWriter with its real worker thread. The writer runs from TypeScript source here; its
// worker is the compiled dist/src/store/store-worker.js (built in beforeAll, see store-dist.ts).
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pino from "pino";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SampleWriter, StoreOpenError, storeWorkerUrl } from "../../src/store/sample-writer.js";
import { SCHEMA_VERSION } from "../../src/store/schema.js";
import { buildStoreDist } from "../fixtures/store-dist.js";
import { IMAGE_BYTES, makeSample } from "../fixtures/store-samples.js";

const logger = pino({ level: "silent" });
let dir: string;

beforeAll(() => buildStoreDist());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "linesight-writer-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function rows(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM samples").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function openFails(path: string): Promise<StoreOpenError> {
  try {
    const w = await SampleWriter.open({ path, maxBytes: 1e9, logger });
    await w.close();
  } catch (err) {
    expect(err).toBeInstanceOf(StoreOpenError);
    return err as StoreOpenError;
  }
  throw new Error(`SampleWriter.open(${path}) should have failed`);
}

describe("SampleWriter", () => {
  it("resolves the compiled worker from TypeScript source", () => {
    expect(storeWorkerUrl().pathname).toMatch(/\/dist\/src\/store\/store-worker\.js$/);
  });

  it("writes enqueued samples and reports stats without a round trip", async () => {
    const path = join(dir, "s.db");
    const w = await SampleWriter.open({ path, maxBytes: 1e9, logger, flushIntervalMs: 10 });
    for (let i = 0; i < 100; i++) expect(w.enqueue(makeSample(i))).toBe(true);
    expect(w.stats().queued).toBe(100);
    await expect.poll(() => w.stats().written, { timeout: 5000 }).toBe(100);
    const st = w.stats();
    expect(st).toMatchObject({ queued: 0, written: 100, dropped: 0, failed: 0, samples: 100, retentionDeleted: 0 });
    expect(st.dbBytes).toBeGreaterThan(100 * IMAGE_BYTES);
    await w.close();
    expect(rows(path)).toBe(100);
  });

  it("drops and counts when the queue is full, without blocking", async () => {
    const path = join(dir, "s.db");
    const w = await SampleWriter.open({ path, maxBytes: 1e9, logger, queueLimit: 8, batchSize: 4 });
    const samples = Array.from({ length: 1000 }, (_, i) => makeSample(i));
    const t0 = performance.now();
    const accepted = samples.map((s) => w.enqueue(s)).filter(Boolean).length;
    const ms = performance.now() - t0;
    // Nothing is sent within the caller's turn, so exactly the queue's capacity fits.
    expect(accepted).toBe(8);
    expect(w.stats()).toMatchObject({ queued: 8, dropped: 992 });
    expect(ms).toBeLessThan(50); // 1000 calls; a blocking insert would take far longer
    await w.close();
    expect(w.stats()).toMatchObject({ written: 8, dropped: 992, queued: 0 });
    expect(rows(path)).toBe(8);
  });

  it("close() flushes everything queued, including a partial batch, and truncates the WAL", async () => {
    const path = join(dir, "s.db");
    const w = await SampleWriter.open({ path, maxBytes: 1e9, logger, batchSize: 64, flushIntervalMs: 60_000 });
    for (let i = 0; i < 200; i++) w.enqueue(makeSample(i)); // 3 full batches + 8 waiting on a 60 s timer
    await w.close();
    expect(w.stats()).toMatchObject({ written: 200, queued: 0, failed: 0 });
    expect(rows(path)).toBe(200);
    let wal = 0;
    try {
      wal = statSync(`${path}-wal`).size;
    } catch {}
    expect(wal).toBe(0);
    // Closed: further samples are refused and counted, and closing again is harmless.
    expect(w.enqueue(makeSample(999))).toBe(false);
    expect(w.stats().dropped).toBe(1);
    await w.close();
  });

  it("moves whole-buffer images to the worker and copies views of shared buffers", async () => {
    const w = await SampleWriter.open({ path: join(dir, "s.db"), maxBytes: 1e9, logger, flushIntervalMs: 5 });
    const own = new Uint8Array(IMAGE_BYTES).fill(1);
    const shared = new Uint8Array(4 * IMAGE_BYTES);
    const view = shared.subarray(IMAGE_BYTES, 2 * IMAGE_BYTES).fill(2);
    w.enqueue(makeSample(0, { image: own }));
    w.enqueue(makeSample(1, { image: view }));
    w.enqueue(makeSample(2, { image: own })); // same buffer twice in one batch: second is copied
    await expect.poll(() => w.stats().written, { timeout: 5000 }).toBe(3);
    expect(own.byteLength).toBe(0); // transferred (detached), not copied
    expect(view.byteLength).toBe(IMAGE_BYTES);
    expect(shared.byteLength).toBe(4 * IMAGE_BYTES);
    await w.close();
    const db = new Database(join(dir, "s.db"), { readonly: true });
    const sizes = db.prepare("SELECT seq, image_bytes AS n, length(image) AS len FROM samples ORDER BY seq").all();
    db.close();
    expect(sizes).toEqual([0, 1, 2].map((seq) => ({ seq, n: IMAGE_BYTES, len: IMAGE_BYTES })));
  });

  it("runs retention in the worker and keeps the store near its limit", async () => {
    const maxBytes = 1024 * 1024;
    const w = await SampleWriter.open({ path: join(dir, "s.db"), maxBytes, logger, flushIntervalMs: 5 });
    for (let i = 0; i < 400; i++) {
      while (!w.enqueue(makeSample(i))) await new Promise((r) => setTimeout(r, 2));
    }
    await w.close();
    const st = w.stats();
    expect(st.written).toBe(400);
    expect(st.retentionDeleted).toBeGreaterThan(300);
    expect(st.samples).toBe(400 - st.retentionDeleted);
    expect(rows(join(dir, "s.db"))).toBe(st.samples);
    expect(st.dbBytes).toBeLessThan(maxBytes + 64 * (IMAGE_BYTES + 4096));
  });

  it("reports samples already in the database when opened", async () => {
    const path = join(dir, "s.db");
    const a = await SampleWriter.open({ path, maxBytes: 1e9, logger });
    for (let i = 0; i < 5; i++) a.enqueue(makeSample(i));
    await a.close();
    const b = await SampleWriter.open({ path, maxBytes: 1e9, logger });
    expect(b.stats()).toMatchObject({ samples: 5, written: 0 });
    await b.close();
  });
});

describe("SampleWriter.open failures", () => {
  it("names the path when the directory cannot be created", async () => {
    writeFileSync(join(dir, "plain-file"), "x");
    const path = join(dir, "plain-file", "samples", "s.db");
    const err = await openFails(path);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/Fix: /);
    expect(err.path).toBe(path);
  });

  it.skipIf(process.getuid?.() === 0)("names the path when the directory is not writable", async () => {
    const { chmodSync, mkdirSync } = await import("node:fs");
    const ro = join(dir, "ro");
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    const err = await openFails(join(ro, "s.db"));
    expect(err.message).toMatch(/permission denied.*write access/);
  });

  it("names the path when the file is not a database", async () => {
    const path = join(dir, "garbage.db");
    writeFileSync(path, Buffer.alloc(4096, 0x5a));
    const err = await openFails(path);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/not a linesight SQLite database.*mv /);
  });

  it("refuses nonsensical options before starting a worker", async () => {
    await expect(SampleWriter.open({ path: join(dir, "s.db"), maxBytes: 1e6, logger, batchSize: 0 })).rejects.toThrow(
      RangeError,
    );
    await expect(SampleWriter.open({ path: join(dir, "s.db"), maxBytes: 0, logger })).rejects.toThrow(/maxBytes/);
  });

  it("refuses a database from a newer version", async () => {
    const path = join(dir, "newer.db");
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    db.close();
    const err = await openFails(path);
    expect(err.message).toMatch(/newer linesight/);
  });
});
