// The operator server on its own (real HTTP, real SQLite, the real catalog worker), for what
// the browser test does not cover: viewing closed, caching and compression, bad requests.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OperatorServer } from "../../src/http/operator-server.js";
import { SampleStore } from "../../src/store/sample-store.js";
import { makeSample } from "../fixtures/store-samples.js";
import { cleanup, DaemonProcess, FOOTAGE, MODEL, tempDir, writeConfig } from "../helpers/daemon.js";
import { standaloneServerOptions } from "../helpers/operator-server.js";
import { freePort } from "../helpers/ports.js";

const TOKEN = "server-test-token-0123456789";
let dir: string;
let server: OperatorServer;

beforeAll(async () => {
  dir = tempDir("linesight-http-");
  const store = SampleStore.open(join(dir, "s.db"));
  store.insertBatch(Array.from({ length: 5 }, (_, i) => makeSample(i)));
  store.close();
  server = await OperatorServer.start(
    standaloneServerOptions(join(dir, "s.db"), { token: TOKEN, readOnlyOpen: false }),
  );
});
afterAll(async () => {
  await server?.close();
  if (dir) cleanup(dir);
});

const bearer = { authorization: `Bearer ${TOKEN}` };

describe("operator server", () => {
  it("with viewing closed, serves the page shells but no data without the token", async () => {
    expect((await fetch(server.url)).status).toBe(200);
    expect((await fetch(`${server.url}label`)).status).toBe(200);
    for (const path of ["api/live", "api/samples", "api/samples/1/image.jpg", "api/audit", "api/live/events"])
      expect((await fetch(`${server.url}${path}`)).status, path).toBe(401);
    const r = await fetch(`${server.url}api/samples?limit=2`, { headers: bearer });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { total: number }).total).toBe(5);
    const img = await fetch(`${server.url}api/samples/1/image.jpg`, { headers: bearer });
    expect(img.headers.get("content-type")).toBe("image/jpeg");
    expect((await img.arrayBuffer()).byteLength).toBe(15 * 1024);
  });

  it("serves assets compressed, cached by ETag, with a same-origin content policy", async () => {
    const r = await fetch(`${server.url}assets/live.js`, { headers: { "accept-encoding": "gzip" } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-encoding")).toBe("gzip");
    expect(r.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
    const etag = r.headers.get("etag") as string;
    expect((await fetch(`${server.url}assets/live.js`, { headers: { "if-none-match": etag } })).status).toBe(304);
    expect((await fetch(`${server.url}assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${server.url}assets/..%2Fpackage.json`)).status).toBe(404);
  });

  it("answers bad requests with what is wrong", async () => {
    const bad = await fetch(`${server.url}api/samples?reason=rejected`, { headers: bearer });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/reason: unknown reason "rejected"/);
    const post = (body: unknown) =>
      fetch(`${server.url}api/labels`, {
        method: "POST",
        headers: { ...bearer, "x-linesight-request": "1", "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect(((await (await post({ sample_ids: [1], label: "meh" })).json()) as { error: string }).error).toMatch(
      /label: expected one of good, defect/,
    );
    expect((await post({ sample_ids: [999], label: "good" })).status).toBe(409);
    expect((await post({ sample_ids: "1", label: "good" })).status).toBe(400);
    const ok = await post({ sample_ids: [1, 2], label: "good" });
    expect(((await ok.json()) as { label_ids: number[] }).label_ids).toHaveLength(2);
    // A defect kind must be one the model names (or "other"), and only on a defect.
    const kindError = async (body: unknown) => ((await (await post(body)).json()) as { error: string }).error;
    expect(await kindError({ sample_ids: [3], label: "defect", kind: "dent" })).toMatch(
      /kind: expected one of crack, chip, other, or none/,
    );
    expect(await kindError({ sample_ids: [3], label: "good", kind: "crack" })).toMatch(
      /only a defect label has a kind/,
    );
    expect((await post({ sample_ids: [3], label: "defect", kind: "chip" })).status).toBe(200);
    expect((await fetch(`${server.url}api/labels`, { method: "DELETE" })).status).toBe(405);
  });
});

describe("the audit estimate on the labeling page", () => {
  it("counts a label or an undo in the estimate read right after it", async () => {
    const db = join(dir, "audit.db");
    const store = SampleStore.open(db);
    store.insertBatch(Array.from({ length: 30 }, (_, i) => makeSample(i, { reason: "audit" })));
    const ids = (store.db.prepare("SELECT id FROM samples ORDER BY id").all() as { id: number }[]).map((r) => r.id);
    store.close();
    const s = await OperatorServer.start(standaloneServerOptions(db, { token: TOKEN, readOnlyOpen: false }));
    try {
      const post = async (path: string, body: unknown) => {
        const r = await fetch(`${s.url}${path}`, {
          method: "POST",
          headers: { ...bearer, "x-linesight-request": "1", "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        expect(r.status).toBe(200);
        return (await r.json()) as { label_ids: number[] };
      };
      const audited = async () =>
        ((await (await fetch(`${s.url}api/audit`, { headers: bearer })).json()) as { samples: number } | null)
          ?.samples ?? 0;
      // As the page does: each label's answer, then the estimate at once (the page shows the last).
      for (const [i, id] of ids.entries()) {
        const { label_ids } = await post("api/labels", { sample_ids: [id], label: i % 4 === 0 ? "defect" : "good" });
        expect(await audited()).toBe(i + 1);
        if (i % 10 === 9) {
          await post("api/labels/undo", { label_ids });
          expect(await audited()).toBe(i);
          await post("api/labels", { sample_ids: [id], label: "good" });
          expect(await audited()).toBe(i + 1);
        }
      }
    } finally {
      await s.close();
    }
  });
});

describe("the daemon's http section", () => {
  it("refuses to start, saying why, when the token file cannot be read", async () => {
    const d = tempDir("linesight-http-bad-");
    try {
      const config = writeConfig(d, {
        device: { id: "bad-token" },
        camera: { replay: { path: FOOTAGE } },
        model: { path: MODEL },
        storage: { path: join(d, "s.db") },
        mqtt: { embedded: { port: await freePort() } },
        http: { port: 0, token_file: join(d, "missing-token") },
      });
      const daemon = new DaemonProcess(["run", "--config", config]);
      const code = await Promise.race([
        daemon.exited,
        new Promise((r) => setTimeout(() => r("still running"), 20_000)),
      ]);
      if (code === "still running") daemon.kill("SIGKILL");
      expect(code).toBe(1);
      expect(daemon.stderr).toMatch(/cannot read secret file .*missing-token: ENOENT/);
    } finally {
      cleanup(d);
    }
  });
});
