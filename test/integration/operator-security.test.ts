// The operator server against the attacks of the outside review (issue 14, items 3 and 4), with
// real HTTP clients and real headless Chromium: DNS rebinding (a foreign Host gets 421), wrong
// tokens limited per client and counted, logout ending a session for copies of its cookie too,
// the X-Linesight-User name checked like a login name, the Secure cookie option.
import { hostname } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OperatorServer } from "../../src/http/operator-server.js";
import { SampleStore } from "../../src/store/sample-store.js";
import { makeSample } from "../fixtures/store-samples.js";
import { launchChromium } from "../helpers/browser.js";
import { cleanup, tempDir } from "../helpers/daemon.js";
import { rawRequest } from "../helpers/http-raw.js";
import { standaloneServerOptions } from "../helpers/operator-server.js";

const TOKEN = "security-test-token-0123456789";
let dir: string;
let server: OperatorServer;
let port: number;
let base: string;

beforeAll(async () => {
  dir = tempDir("linesight-http-sec-");
  const store = SampleStore.open(join(dir, "s.db"));
  store.insertBatch(Array.from({ length: 5 }, (_, i) => makeSample(i)));
  store.close();
  server = await OperatorServer.start(
    standaloneServerOptions(join(dir, "s.db"), {
      token: TOKEN,
      readOnlyOpen: true,
      allowedHosts: ["screen.example"],
      secureCookie: true,
    }),
  );
  base = server.url;
  port = Number(new URL(base).port);
});
afterAll(async () => {
  await server?.close();
  if (dir) cleanup(dir);
});

const json = { "content-type": "application/json", "x-linesight-request": "1" };

function login(token: string, localAddress = "127.0.0.1", name = "Ann") {
  return rawRequest(`${base}api/session`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ name, token }),
    localAddress,
  });
}

describe("DNS rebinding", () => {
  it("answers 421 to a Host that is not this device, naming http.allowed_hosts", async () => {
    const before = server.stats().hostRefused;
    for (const path of ["/", "/api/live", "/api/samples/1/image.jpg", "/api/live/events"]) {
      const r = await rawRequest(`${base}${path.slice(1)}`, { headers: { host: `rebind.example:${port}` } });
      expect(r.status, path).toBe(421);
      expect(JSON.parse(r.body).error).toMatch(/"rebind\.example".*http\.allowed_hosts/);
    }
    expect(server.stats().hostRefused).toBe(before + 4);
  });

  it("answers the device's own names and addresses and the configured ones", async () => {
    const name = hostname();
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `${name}:${port}`,
      "screen.example",
      `[::1]:${port}`,
    ]) {
      const r = await rawRequest(`${base}api/live`, { headers: { host } });
      expect(r.status, host).toBe(200);
    }
  });

  it("a page served under another name cannot read the live view in a real browser", async () => {
    let browser: Browser | null = null;
    try {
      // What a rebinding attack achieves: the attacker's name resolves to this device.
      browser = await launchChromium(["--host-resolver-rules=MAP rebind.example 127.0.0.1"]);
      const page = await browser.newPage();
      const attacked = await page.goto(`http://rebind.example:${port}/`);
      expect(attacked?.status()).toBe(421);
      // Runs inside the page (a string: the project's types have no DOM).
      const fromPage = await page.evaluate("fetch('/api/live').then((r) => r.status)");
      expect(fromPage).toBe(421);
      const own = await page.goto(`http://127.0.0.1:${port}/`);
      expect(own?.status()).toBe(200);
    } finally {
      await browser?.close();
    }
  });
});

describe("tokens", () => {
  it("limits wrong tokens per client, counts them, and leaves other clients alone", async () => {
    const before = server.stats().authFailures;
    for (let i = 0; i < 5; i++) expect((await login("wrong-token-0000000000")).status).toBe(401);
    const blocked = await login("wrong-token-0000000000");
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers["retry-after"])).toBeGreaterThan(0);
    expect(JSON.parse(blocked.body).error).toMatch(/too many wrong tokens .* try again in \d+ s/);
    // While it waits, even the right token is not checked for that client...
    expect((await login(TOKEN)).status).toBe(429);
    // ...but another machine logs in.
    expect((await login(TOKEN, "127.0.0.2")).status).toBe(200);
    // A wrong bearer token is a guess too.
    const bearer = (t: string) =>
      rawRequest(`${base}api/labels`, {
        method: "POST",
        headers: { ...json, authorization: `Bearer ${t}` },
        body: JSON.stringify({ sample_ids: [1], label: "good" }),
        localAddress: "127.0.0.3",
      });
    for (let i = 0; i < 5; i++) expect((await bearer("nope-nope-nope-nope")).status).toBe(401);
    expect((await bearer(TOKEN)).status).toBe(429);
    const stats = server.stats();
    expect(stats.authFailures).toBe(before + 10);
    expect(stats.authThrottled).toBeGreaterThanOrEqual(3);
    expect(stats.clientsBlocked).toBe(2);
  });

  it("logout ends the session on the server: a copied cookie stops working", async () => {
    const r = await login(TOKEN, "127.0.0.4");
    expect(r.status).toBe(200);
    const setCookie = String(r.headers["set-cookie"]);
    expect(setCookie).toMatch(/HttpOnly; SameSite=Strict; Secure/);
    const cookie = setCookie.split(";")[0] as string;
    const label = () =>
      fetch(`${base}api/labels`, {
        method: "POST",
        headers: { ...json, cookie },
        body: JSON.stringify({ sample_ids: [2], label: "good" }),
      });
    expect((await label()).status).toBe(200);
    const out = await fetch(`${base}api/logout`, { method: "POST", headers: { ...json, cookie } });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/Max-Age=0/);
    // The copy (e.g. taken from the browser before logout) no longer works.
    expect((await label()).status).toBe(401);
  });

  it("checks a script's X-Linesight-User like a login name and stores the accepted one", async () => {
    const post = (user: string) =>
      rawRequest(`${base}api/labels`, {
        method: "POST",
        headers: { ...json, authorization: `Bearer ${TOKEN}`, "x-linesight-user": user },
        body: JSON.stringify({ sample_ids: [3], label: "defect" }),
        localAddress: "127.0.0.5",
      });
    const long = await post("x".repeat(200));
    expect(long.status).toBe(400);
    expect(JSON.parse(long.body).error).toMatch(/x-linesight-user: 1 to 64 printable characters/);
    // UTF-8 bytes with a right-to-left override hidden in the name.
    const hidden = Buffer.from("nightly\u202Eadmin", "utf8").toString("latin1");
    expect((await post(hidden)).status).toBe(400);
    expect((await post(Buffer.from("Jürgen's script", "utf8").toString("latin1"))).status).toBe(200);
    const list = (await (await fetch(`${base}api/samples?labeled=labeled&limit=50`)).json()) as {
      samples: { id: number; labeled_by: string }[];
    };
    expect(list.samples.find((s) => s.id === 3)?.labeled_by).toBe("Jürgen's script");
  });
});
