// The labeling page's database worker dying inside the real daemon (issue 14, item 7): the
// request it held and those that follow get 503 with the reason while it restarts with a
// growing delay, the page then works again, and inspection never stops. The worker is made
// to die by the test-only fault hook LINESIGHT_FAULT_CATALOG_CRASH_SAMPLE (an uncaught error
// in the worker, as a bug would throw).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanup, DaemonProcess, FOOTAGE, MODEL, tempDir, writeConfig } from "../helpers/daemon.js";
import { freePort } from "../helpers/ports.js";

const TOKEN = "catalog-test-token-0123456789";
let dir: string;
let url: string;
let daemon: DaemonProcess;

beforeAll(async () => {
  dir = tempDir("linesight-catalog-");
  writeFileSync(join(dir, "token"), `${TOKEN}\n`, { mode: 0o600 });
  const config = writeConfig(dir, {
    device: { id: "catalog-test" },
    camera: { replay: { path: FOOTAGE, fps: 20 } },
    model: { path: MODEL },
    storage: { path: join(dir, "linesight.db"), audit_fraction: 0.5 },
    mqtt: { embedded: { port: await freePort() } },
    http: { port: await freePort(), token_file: join(dir, "token") },
  });
  daemon = new DaemonProcess(["run", "--config", config], { LINESIGHT_FAULT_CATALOG_CRASH_SAMPLE: "1" });
  url = (await daemon.waitForLog((l) => l.msg === "operator page up", 30_000, "the operator page")).url as string;
  await daemon.waitForLog((l) => l.msg === "ready: first frame decided", 30_000, "the first decision");
});

afterAll(async () => {
  daemon?.kill("SIGTERM");
  await daemon?.exited;
  if (dir) cleanup(dir);
});

const inspected = async (): Promise<number> =>
  ((await (await fetch(`${url}api/live`)).json()) as { counters: { inspected: number } }).counters.inspected;

async function until<T>(what: string, f: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a dead catalog worker", () => {
  it("answers 503 with the reason, restarts with backoff, and never stops inspection", async () => {
    await until("sample 1 to be stored", async () => {
      const r = (await (await fetch(`${url}api/samples?limit=500`)).json()) as { samples: { id: number }[] };
      return r.samples.some((s) => s.id === 1) ? true : null;
    });

    for (let round = 1; round <= 2; round++) {
      const before = await inspected();
      // The worker dies holding this request.
      const held = await fetch(`${url}api/samples/1/image.jpg`);
      expect(held.status).toBe(503);
      expect(((await held.json()) as { error: string }).error).toMatch(
        /sample catalog stopped \(injected fault on sample 1\) and is being restarted: try again in \d+ s/,
      );
      // While it restarts the page says so, with when to try again.
      const during = await fetch(`${url}api/samples`);
      expect(during.status).toBe(503);
      expect(Number(during.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      await during.body?.cancel();
      // Then it works again.
      await until("the catalog back", async () => ((await fetch(`${url}api/samples`)).status === 200 ? true : null));
      const restarted = daemon.logs.filter((l) => l.msg === "sample catalog restarted");
      expect(restarted.length).toBe(round);
      // Inspection went on the whole time.
      expect(await inspected()).toBeGreaterThan(before);
    }
    // Each death in a row waits longer before the restart.
    const delays = daemon.logs.filter((l) => l.msg.startsWith("sample catalog stopped")).map((l) => l.retryInMs);
    expect(delays).toEqual([500, 1000]);
    expect(daemon.logs.filter((l) => l.msg === "sample catalog worker failed")).toHaveLength(2);
    // Another sample's image is served as before.
    const other = (await (await fetch(`${url}api/samples?limit=5`)).json()) as { samples: { id: number }[] };
    const id = other.samples.find((s) => s.id !== 1)?.id as number;
    expect((await fetch(`${url}api/samples/${id}/image.jpg`)).headers.get("content-type")).toBe("image/jpeg");
  });
});
