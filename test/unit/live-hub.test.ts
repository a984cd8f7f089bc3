// A browser that stops reading must cost the daemon a bounded amount of memory and must not
// hold back the others: real HTTP server, real sockets, one client that never reads.
import { createServer, get, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { LiveHub } from "../../src/http/live-hub.js";

let server: Server | null = null;
let hub: LiveHub | null = null;
const sockets: Socket[] = [];
afterEach(async () => {
  hub?.close();
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise((r) => (server ? server.close(r) : r(null)));
});

describe("LiveHub", () => {
  it("skips a client that does not drain, keeps its backlog bounded, and keeps serving the others", async () => {
    let n = 0;
    const big = "x".repeat(100_000); // big messages fill the kernel's socket buffers quickly
    const h = new LiveHub(50, () => JSON.stringify({ n: ++n, pad: big }));
    hub = h;
    const responses: import("node:http").ServerResponse[] = [];
    server = createServer((_req, res) => {
      responses.push(res);
      h.add(res);
    });
    await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;

    // The stalled client: sends its request, then never reads.
    const stalled = connect(port, "127.0.0.1");
    sockets.push(stalled);
    stalled.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    stalled.pause();
    // The healthy client reads everything.
    let received = 0;
    get(`http://127.0.0.1:${port}/`, (res) => {
      res.on("data", (c: Buffer) => {
        received += c.length;
      });
    });
    await new Promise((r) => setTimeout(r, 200));

    const end = Date.now() + 3000;
    let maxBacklog = 0;
    while (Date.now() < end) {
      h.markDirty();
      await new Promise((r) => setTimeout(r, 20));
      for (const res of responses) maxBacklog = Math.max(maxBacklog, res.writableLength);
    }
    const stats = h.stats();
    expect(stats.clients).toBe(2);
    expect(stats.skipped).toBeGreaterThan(0);
    // At most one message beyond the 32 kB limit waits in memory for the stalled client.
    expect(maxBacklog).toBeLessThan(32 * 1024 + 110_000);
    // The healthy client got about 50 messages a second for 3 s.
    expect(received).toBeGreaterThan(100 * 100_000);
  });

  it("sends at most max rate, the newest state, however often it is marked dirty", async () => {
    let built = 0;
    const h = new LiveHub(10, () => String(++built));
    hub = h;
    server = createServer((_req, res) => h.add(res));
    await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const messages: string[] = [];
    get(`http://127.0.0.1:${port}/`, (res) => {
      res.setEncoding("utf8");
      res.on("data", (c: string) => messages.push(...c.split("\n").filter((l) => l.startsWith("data: "))));
    });
    await new Promise((r) => setTimeout(r, 100));
    const end = Date.now() + 1000;
    while (Date.now() < end) {
      h.markDirty();
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 150));
    // One on connect, then about 10 in the second (timer slack allows one or two more).
    expect(messages.length).toBeGreaterThanOrEqual(9);
    expect(messages.length).toBeLessThanOrEqual(13);
  });
});
