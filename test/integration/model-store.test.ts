// The model store on a device: versions side by side, active/previous/candidate recorded
// durably, and no state a kill -9 or a full disk can leave broken.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import type { KeyObject } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLabelledDir } from "../../src/dataset/labelled-dir.js";
import type { Trust } from "../../src/model/bundle.js";
import { BundleRefusedError } from "../../src/model/bundle-index.js";
import { packBundle } from "../../src/model/bundle-pack.js";
import { bufferSource } from "../../src/model/byte-source.js";
import { selectGolden } from "../../src/model/golden.js";
import { ModelStore } from "../../src/model/model-store.js";
import { generateKeyPair, loadPrivateKey, loadPublicKey } from "../../src/model/signing.js";
import { acquireLock, StoreBusyError } from "../../src/model/store-lock.js";
import type { StoreState } from "../../src/model/store-state.js";
import { versioned } from "../helpers/bundles.js";
import { FOOTAGE, MODEL, ROOT } from "../helpers/daemon.js";

const CHILD = fileURLToPath(new URL("../fixtures/model-store-child.mjs", import.meta.url));
const MAX = 64 * 1048576;
let dir: string;
let pub: string;
let key: KeyObject;
let trust: Trust;
const bundles: Record<string, Buffer> = {};
const paths: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "linesight-store-"));
  const k = await generateKeyPair(dir, "release");
  pub = k.publicPath;
  key = await loadPrivateKey(k.privatePath);
  trust = { keys: [await loadPublicKey(pub)], allowUnsigned: false };
  const base = join(dir, "base.lsm");
  await packBundle({
    modelDir: MODEL,
    out: base,
    privateKey: key,
    golden: selectGolden(await readLabelledDir(FOOTAGE), 4),
  });
  const { readFileSync } = await import("node:fs");
  const baseBytes = readFileSync(base);
  for (const v of ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]) {
    bundles[v] = await versioned(baseBytes, key, v);
    paths[v] = join(dir, `rp-${v}.lsm`);
    writeFileSync(paths[v], bundles[v]);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const freshDir = () => join(dir, `store-${n++}`);
const install = (store: ModelStore, v: string, extra: { allowDowngrade?: boolean } = {}) =>
  store.install(bufferSource(bundles[v] as Buffer), { trust, maxBytes: MAX, ...extra });
const pointers = (s: StoreState) => ({ active: s.active, previous: s.previous, candidate: s.candidate });

async function expectIntact(path: string): Promise<StoreState> {
  const store = await ModelStore.open(path, { keep: 3 });
  const report = await store.verify(trust);
  expect(report.problems).toEqual([]);
  // Nothing half-done is left: no staging or trash, only recorded versions.
  expect(readdirSync(path).sort()).toEqual([".staging", ".trash", "state.json", "versions"]);
  expect([...readdirSync(join(path, ".staging")), ...readdirSync(join(path, ".trash"))]).toEqual([]);
  expect(readdirSync(join(path, "versions")).sort()).toEqual(store.state.installed.map((v) => v.id).sort());
  return store.state;
}

describe("the model store", () => {
  it("installs side by side: the first becomes active, the next the candidate; promote and roll back", async () => {
    const path = freshDir();
    const store = await ModelStore.open(path, { keep: 3 });
    expect(store.activeDir()).toBeNull();
    expect((await install(store, "1.0.0")).role).toBe("active");
    const r = await install(store, "1.1.0");
    expect(r).toMatchObject({
      id: "round-parts@1.1.0",
      role: "candidate",
      alreadyInstalled: false,
      signedBy: trust.keys[0]?.id,
    });
    expect(existsSync(join(r.dir, "model.onnx"))).toBe(true);
    expect(pointers(await store.promote())).toEqual({
      active: "round-parts@1.1.0",
      previous: "round-parts@1.0.0",
      candidate: null,
    });
    expect(store.activeDir()).toBe(join(path, "versions", "round-parts@1.1.0"));
    // Recorded durably: another process (a restart) sees the same.
    expect(pointers((await ModelStore.open(path, { keep: 3 })).state)).toEqual(pointers(store.state));
    expect(pointers(await store.rollback())).toEqual({ active: "round-parts@1.0.0", previous: null, candidate: null });
    await expect(store.rollback()).rejects.toThrow("there is no previous model to roll back to");
    await expect(store.promote()).rejects.toThrow("there is no candidate model to promote; install one first");
    expect(store.state.history.map((h) => h.change)).toEqual(["install", "install", "promote", "rollback"]);
    await expectIntact(path);
  });

  it("refuses an older version than the active one unless a downgrade is asked for, and a changed bundle under a used version", async () => {
    const store = await ModelStore.open(freshDir(), { keep: 3 });
    await install(store, "1.2.0");
    const err = await install(store, "1.1.0").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleRefusedError);
    expect(err).toMatchObject({ code: "downgrade" });
    expect((err as Error).message).toMatch(/1\.1\.0 is older than the active model's 1\.2\.0/);
    expect((await install(store, "1.1.0", { allowDowngrade: true })).role).toBe("candidate");
    // The same bundle again changes nothing; another bundle with a version already installed is refused.
    expect((await install(store, "1.1.0", { allowDowngrade: true })).alreadyInstalled).toBe(true);
    const resigned = await versioned(bundles["1.0.0"] as Buffer, key, "1.1.0");
    const { rebuild } = await import("../helpers/bundles.js");
    const other = await rebuild(resigned, key, (index) => {
      index.created = "2020-01-01T00:00:00Z";
    });
    const conflict = await store
      .install(bufferSource(other), { trust, maxBytes: MAX, allowDowngrade: true })
      .catch((e: unknown) => e);
    expect(conflict).toMatchObject({ code: "conflict" });
    expect((conflict as Error).message).toMatch(
      /already installed with different contents; give the new model a new version/,
    );
  });

  it("keeps model.keep_versions versions, never deleting active, previous or candidate", async () => {
    const path = freshDir();
    const store = await ModelStore.open(path, { keep: 3 });
    for (const v of ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]) {
      await install(store, v);
      if (store.state.candidate) await store.promote();
    }
    expect(store.state.installed.map((v) => v.id)).toEqual([
      "round-parts@1.1.0",
      "round-parts@1.2.0",
      "round-parts@1.3.0",
    ]);
    expect(pointers(store.state)).toEqual({
      active: "round-parts@1.3.0",
      previous: "round-parts@1.2.0",
      candidate: null,
    });
    await expectIntact(path);
    await expect(ModelStore.open(path, { keep: 1 })).rejects.toThrow(
      /model.keep_versions must be an integer of at least 2/,
    );
  });

  it("takes one change at a time: a second install while one runs is refused, not interleaved", async () => {
    const path = freshDir();
    const a = await ModelStore.open(path, { keep: 3 });
    const b = await ModelStore.open(path, { keep: 3 });
    await install(a, "1.0.0");
    // While a change holds the lock (taken here as a change takes it), another is refused, naming the holder.
    const held = await acquireLock(join(path, "lock"), "install");
    const busy = await install(b, "1.2.0").catch((e: unknown) => e);
    await held.release();
    expect(busy).toBeInstanceOf(StoreBusyError);
    expect((busy as Error).message).toMatch(/another change to the model store is under way \(pid \d+\)/);
    expect((await expectIntact(path)).installed).toHaveLength(1);
    // Two at once: whether they overlap depends on timing; either way each is whole or refused.
    const results = await Promise.allSettled([install(a, "1.1.0"), install(b, "1.2.0")]);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(StoreBusyError);
    const state = await expectIntact(path);
    expect(state.installed).toHaveLength(1 + results.filter((r) => r.status === "fulfilled").length);
  });

  it("refuses a store record that is not one, naming the file", async () => {
    const path = freshDir();
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, "state.json"), "{ torn");
    await expect(ModelStore.open(path, { keep: 3 })).rejects.toThrow(/state.json is not valid JSON/);
  });
});

function runChild(args: string[]): ReturnType<typeof spawnSync> {
  return spawnSync(process.execPath, [CHILD, ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
}

describe("kill -9 during a change", () => {
  it("at every step of install, promote and rollback leaves the old state or the new, intact", async () => {
    const steps = ["locked", "verified", "extracted", "checked", "renamed", "recorded", "pruned"];
    let round = 0;
    for (const [op, bundle, stepsOf] of [
      ["install", "1.3.0", steps],
      ["promote", "", ["locked", "recorded", "pruned"]],
      ["rollback", "", ["locked", "recorded", "pruned"]],
    ] as const) {
      for (const step of stepsOf) {
        // A store with active 1.1.0, previous 1.0.0, candidate 1.2.0 (full at keep 3: an install prunes).
        const path = join(dir, `crash-${round++}`);
        const store = await ModelStore.open(path, { keep: 3 });
        await install(store, "1.0.0");
        await install(store, "1.1.0");
        await store.promote();
        await install(store, "1.2.0");
        const before = pointers(store.state);
        const r = runChild(["step", path, pub, step, op, bundle ? (paths[bundle] as string) : ""]);
        expect(r.signal, `${op} at ${step}: ${r.stderr}`).toBe("SIGKILL");
        const after = pointers(await expectIntact(path));
        const done = {
          install: { ...before, candidate: "round-parts@1.3.0" },
          promote: { active: "round-parts@1.2.0", previous: "round-parts@1.1.0", candidate: null },
          rollback: { active: "round-parts@1.0.0", previous: null, candidate: "round-parts@1.2.0" },
        }[op];
        expect([before, done], `${op} killed at ${step}`).toContainEqual(after);
        // The store works on after the crash: the change can be made (again).
        const again = await ModelStore.open(path, { keep: 3 });
        if (op === "install") expect((await install(again, "1.3.0")).id).toBe("round-parts@1.3.0");
      }
    }
  });

  it("at random moments of installs and promotions in a loop (mid-write included)", async () => {
    const path = join(dir, "hammer");
    const bundleArgs = ["1.0.0", "1.1.0", "1.2.0", "1.3.0"].map((v) => paths[v] as string);
    let midChange = 0;
    for (const delay of [40, 95, 150, 230, 310, 77, 420, 123]) {
      const child: ChildProcess = spawn(process.execPath, [CHILD, "hammer", path, pub, ...bundleArgs], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let err = "";
      child.stderr?.on("data", (d: Buffer) => {
        err += d.toString();
      });
      // Wait for the first completed operation, then a varying delay, so kills land everywhere.
      await new Promise<void>((resolve, reject) => {
        child.stdout?.once("data", () => resolve());
        child.once("exit", (code) => reject(new Error(`hammer exited (${code}): ${err}`)));
      });
      await new Promise((r) => setTimeout(r, delay));
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      });
      // Evidence the kill landed inside a change: its lock or its staging folder left behind.
      if (existsSync(join(path, "lock")) || readdirSync(join(path, ".staging")).length > 0) midChange++;
      const state = await expectIntact(path);
      expect(state.active).not.toBeNull();
    }
    expect(midChange).toBeGreaterThan(0);
  });
});

describe("disk full during an install", () => {
  it("refuses the install with the reason and leaves the store as it was", () => {
    // A real full disk: a 600 kB tmpfs in a private mount namespace (util-linux's unshare).
    const mount = join(dir, "small-disk");
    mkdirSync(mount);
    const script =
      `mount -t tmpfs -o size=600k tmpfs '${mount}' && ` +
      `exec '${process.execPath}' '${CHILD}' install '${mount}/store' '${pub}' '${paths["1.0.0"]}' '${paths["1.1.0"]}' '${paths["1.2.0"]}'`;
    // Root (CI) needs only a mount namespace; anyone else maps themselves to root in a user namespace.
    const ns = process.getuid?.() === 0 ? ["--mount"] : ["--user", "--map-root-user", "--mount"];
    const r = spawnSync("unshare", [...ns, "sh", "-c", script], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status, `unshare/tmpfs: ${r.stderr}`).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ id: "round-parts@1.0.0", role: "active" });
    expect(lines[1]).toEqual({ id: "round-parts@1.1.0", role: "candidate" });
    expect(lines[2].error).toMatch(
      /no space left on the device while installing round-parts@1\.2\.0 \(ENOSPC\); the store is unchanged/,
    );
    const final = lines[3];
    expect(final.report).toEqual({ ok: true, problems: [], verified: ["round-parts@1.0.0", "round-parts@1.1.0"] });
    expect(pointers(final.state)).toEqual({
      active: "round-parts@1.0.0",
      previous: null,
      candidate: "round-parts@1.1.0",
    });
    expect(final.top).toEqual([".staging", ".trash", "state.json", "versions"]);
    expect(final.leftovers).toEqual([]);
  });
});

describe("the model the daemon starts on", () => {
  it("is model.path without a store or with an empty one, else the store's recorded active version", async () => {
    const { startupModel } = await import("../../src/model/startup-model.js");
    expect(await startupModel({ path: MODEL, store: null, keep_versions: 3 })).toMatchObject({
      dir: MODEL,
      from: "path",
    });
    const path = freshDir();
    expect(await startupModel({ path: MODEL, store: path, keep_versions: 3 })).toMatchObject({
      dir: MODEL,
      from: "path",
      id: null,
    });
    const store = await ModelStore.open(path, { keep: 3 });
    await install(store, "1.0.0");
    await install(store, "1.1.0");
    await store.promote();
    const s = await startupModel({ path: MODEL, store: path, keep_versions: 3 });
    expect(s).toMatchObject({
      dir: join(path, "versions", "round-parts@1.1.0"),
      from: "store",
      id: "round-parts@1.1.0",
    });
    // The folder is a complete model the session loads as it does model.path.
    const { ModelSession } = await import("../../src/model/session.js");
    const session = await ModelSession.load(s.dir, { threads: 1 });
    expect(session.manifest.version).toBe("1.1.0");
    await session.release();
  });
});
