// Power can be cut at any moment: SIGKILL a process that is inserting (and deleting, via
// retention) through the real SampleWriter, several times over the same file, then check that
// the database opens, passes integrity_check, and holds only complete rows.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SampleStore } from "../../src/store/sample-store.js";
import { buildStoreDist, ROOT } from "../fixtures/store-dist.js";

const HAMMER = fileURLToPath(new URL("../fixtures/store-hammer.mjs", import.meta.url));
let dir: string;

beforeAll(() => {
  buildStoreDist();
  dir = mkdtempSync(join(tmpdir(), "linesight-crash-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the hammer and resolves once it has written at least `after` samples. */
function hammerUntil(path: string, after: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [HAMMER, path, String(3 * 1024 * 1024)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const line of lines) {
        if (Number(line.split(" ")[1]) >= after) resolve(child);
      }
    });
    child.on("exit", (code, signal) => reject(new Error(`hammer exited early (${code ?? signal}): ${stderr}`)));
  });
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

describe("kill -9 while writing", () => {
  it("leaves a database that opens, passes integrity_check and has only complete rows", async () => {
    const path = join(dir, "samples.db");
    // Several rounds over the same file: recovery of a torn WAL, then more writes and deletes on
    // top of it. Kill points vary because "written" is sampled at different moments.
    for (const after of [300, 900, 500, 1500]) {
      const child = await hammerUntil(path, after);
      // Let it run on a little so the kill lands mid-transaction rather than right after one.
      await new Promise((r) => setTimeout(r, 37 + (after % 50)));
      await killHard(child);
      // The kill left committed-but-uncheckpointed (and maybe torn) frames for recovery to handle.
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);

      const store = SampleStore.open(path); // must open: recovery happens here
      try {
        expect(store.db.pragma("integrity_check", { simple: true })).toBe("ok");
        expect(store.db.pragma("foreign_key_check")).toEqual([]);
        const rows = store.count();
        expect(rows).toBeGreaterThan(50);
        const incomplete = store.db
          .prepare(
            `SELECT count(*) AS n FROM samples
             WHERE image IS NULL OR image_bytes != length(image) OR image_bytes < 8192
                OR NOT json_valid(output) OR features IS NULL OR model_sha256 != ? OR latency_ms != 12.5`,
          )
          .get("0".repeat(64));
        expect(incomplete).toEqual({ n: 0 });
        // Retention was active during the crashes: the store stayed near its 3 MB limit.
        expect(store.usedBytes()).toBeLessThan(3 * 1024 * 1024 + 1024 * 1024);
      } finally {
        store.close();
      }
    }
  });
});
