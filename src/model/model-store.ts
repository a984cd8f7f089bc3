// The models installed on a device, side by side under one folder, with `active`, `previous`
// and `candidate` recorded durably:
//   <dir>/state.json        the record (store-state.ts), replaced atomically
//   <dir>/versions/<id>/    one extracted bundle per installed version (id: name@version)
//   <dir>/.staging/         installs in progress;  <dir>/.trash/  deletions in progress
//   <dir>/lock              held during every change
// A version folder is complete before it is renamed into versions/, and only state.json names
// what is installed, so a kill -9 at any moment leaves the old state or the new one; what a
// killed change left behind (staging, trash, an unrecorded folder) is cleared at the next open.
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { UserFacingError } from "../errors.js";
import { extractBundle, type Trust, type VerifiedBundle, verifyBundle, verifyUnpacked } from "./bundle.js";
import { BundleRefusedError, versionId } from "./bundle-index.js";
import type { ByteSource } from "./byte-source.js";
import { fsyncDir, replaceFileAtomic } from "./durable-fs.js";
import { acquireLock } from "./store-lock.js";
import {
  afterDiscard,
  afterInstall,
  afterPromote,
  afterPrune,
  afterRollback,
  asCandidate,
  emptyState,
  type StoreState,
  stateProblem,
  storeStateSchema,
  toPrune,
} from "./store-state.js";
import { downgradeRefusal } from "./version.js";

export class StoreError extends UserFacingError {}

/** Points in a change where a test may pull the plug; names say what is done. */
export type StoreStep = "locked" | "verified" | "extracted" | "checked" | "renamed" | "recorded" | "pruned";

export interface StoreOptions {
  /** Installed versions to keep (active, previous and candidate are never deleted). */
  keep: number;
  /** Called after each step of a change (tests kill the process here). */
  onStep?: (step: StoreStep) => void;
}

export interface InstallOptions {
  trust: Trust;
  maxBytes: number;
  /** Install a version older than the active one (rollback protection off for this install). */
  allowDowngrade?: boolean;
  /** Checks on the extracted files before the version is accepted (session, golden frames, ...). */
  check?: (dir: string, bundle: VerifiedBundle) => Promise<void>;
}

export interface InstallResult {
  id: string;
  dir: string;
  role: "active" | "candidate";
  signedBy: string | null;
  /** The same bundle was installed before: nothing was copied. */
  alreadyInstalled: boolean;
  state: StoreState;
}

export interface IntegrityReport {
  ok: boolean;
  problems: string[];
  verified: string[];
}

export class ModelStore {
  private constructor(
    readonly dir: string,
    private readonly options: StoreOptions,
    private current: StoreState,
  ) {}

  /** Opens (creating if needed) a store; clears what an interrupted change left behind. */
  static async open(dir: string, options: StoreOptions): Promise<ModelStore> {
    if (!Number.isInteger(options.keep) || options.keep < 2)
      throw new StoreError(
        `model.keep_versions must be an integer of at least 2 (active and previous), got ${options.keep}`,
      );
    try {
      for (const sub of ["versions", ".staging", ".trash"]) await mkdir(join(dir, sub), { recursive: true });
    } catch (err) {
      throw new StoreError(`cannot create the model store ${dir}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    const store = new ModelStore(dir, options, await readState(dir));
    // Clearing needs the lock: a folder being installed right now looks just like a leftover.
    const lock = await acquireLock(join(dir, "lock"), "open").catch(() => null);
    if (lock) {
      try {
        store.current = await readState(dir);
        await store.clearLeftovers();
      } finally {
        await lock.release();
      }
    }
    return store;
  }

  get state(): StoreState {
    return this.current;
  }

  dirOf(id: string): string {
    return join(this.dir, "versions", id);
  }

  /** The folder the daemon should load, or null when nothing is installed yet. */
  activeDir(): string | null {
    return this.current.active ? this.dirOf(this.current.active) : null;
  }

  /** Re-reads state.json (another process may have changed it). */
  async refresh(): Promise<StoreState> {
    this.current = await readState(this.dir);
    return this.current;
  }

  /** Verifies a bundle, extracts and checks it, then records it as candidate (or active when none). */
  async install(source: ByteSource, o: InstallOptions): Promise<InstallResult> {
    const bundle = await verifyBundle(source, { trust: o.trust, maxBytes: o.maxBytes });
    const result = await this.change<Omit<InstallResult, "state">>("install", async (state) => {
      this.step("verified");
      const id = versionId(bundle.index);
      const active = state.installed.find((v) => v.id === state.active);
      if (active && active.name === bundle.index.name) {
        const refusal = downgradeRefusal(bundle.index.version, active.version, o.allowDowngrade ?? false);
        if (refusal) throw new BundleRefusedError("downgrade", refusal);
      }
      const existing = state.installed.find((v) => v.id === id);
      if (existing) {
        if (existing.index_sha256 !== bundle.indexSha256)
          throw new BundleRefusedError(
            "conflict",
            `${id} is already installed with different contents; give the new model a new version number`,
          );
        const next = asCandidate(state, id, new Date().toISOString());
        return {
          next,
          result: {
            id,
            dir: this.dirOf(id),
            role: next.active === id ? "active" : "candidate",
            signedBy: existing.signed_by,
            alreadyInstalled: true,
          },
        };
      }
      const staging = join(this.dir, ".staging", `${process.pid}-${randomBytes(4).toString("hex")}`);
      const target = this.dirOf(id);
      try {
        await extractBundle(bundle, staging);
        this.step("extracted");
        if (o.check) await o.check(staging, bundle);
        this.step("checked");
        await this.discardFolder(target); // an unrecorded leftover of an interrupted install
        await rename(staging, target);
        await fsyncDir(join(this.dir, "versions"));
        this.step("renamed");
      } catch (err) {
        await rm(staging, { recursive: true, force: true });
        throw diskFull(err, `installing ${id}`);
      }
      const next = afterInstall(state, {
        id,
        name: bundle.index.name,
        version: bundle.index.version,
        index_sha256: bundle.indexSha256,
        signed_by: bundle.signedBy,
        installed_at: new Date().toISOString(),
      });
      return {
        next,
        result: {
          id,
          dir: target,
          role: next.active === id ? "active" : "candidate",
          signedBy: bundle.signedBy,
          alreadyInstalled: false,
        },
        undo: () => this.discardFolder(target),
      };
    });
    return { ...result, state: this.current };
  }

  /** candidate -> active, active -> previous. */
  promote(): Promise<StoreState> {
    return this.pointerChange("promote", (s) => afterPromote(s, new Date().toISOString()));
  }

  /** previous -> active. */
  rollback(): Promise<StoreState> {
    return this.pointerChange("rollback", (s) => afterRollback(s, new Date().toISOString()));
  }

  discardCandidate(): Promise<StoreState> {
    return this.pointerChange("discard", (s) => afterDiscard(s, new Date().toISOString()));
  }

  /** Every recorded version re-verified on disk (hashes; the signature too when `trust` is given). */
  async verify(trust: Trust | null): Promise<IntegrityReport> {
    const state = await this.refresh();
    const problems: string[] = [];
    const verified: string[] = [];
    const p = stateProblem(state);
    if (p) problems.push(`state.json: ${p}`);
    for (const v of state.installed) {
      try {
        const index = await verifyUnpacked(this.dirOf(v.id), trust);
        if (versionId(index) !== v.id) problems.push(`${v.id}: its folder holds ${versionId(index)}`);
        else verified.push(v.id);
      } catch (err) {
        problems.push(`${v.id}: ${(err as Error).message}`);
      }
    }
    return { ok: problems.length === 0, problems, verified };
  }

  private pointerChange(what: string, f: (s: StoreState) => StoreState): Promise<StoreState> {
    return this.change(what, async (state) => ({ next: f(state), result: null })).then(() => this.current);
  }

  /** Runs one change under the lock on the latest state, records it atomically, then prunes. */
  private async change<R>(
    what: string,
    body: (state: StoreState) => Promise<{ next: StoreState; result: R; undo?: () => Promise<void> }>,
  ): Promise<R> {
    const lock = await acquireLock(join(this.dir, "lock"), what);
    try {
      this.step("locked");
      const state = await readState(this.dir);
      const { next, result, undo } = await body(state);
      if (next !== state) {
        try {
          await writeState(this.dir, next);
        } catch (err) {
          await undo?.().catch(() => {});
          throw diskFull(err, `recording ${what}`);
        }
      }
      this.current = next;
      this.step("recorded");
      await this.prune();
      this.step("pruned");
      return result;
    } finally {
      await lock.release();
    }
  }

  /**
   * Deletes versions beyond `keep`: recorded first, then the folder moved out and removed. A
   * failure here (a full disk) does not undo the change just made: the version stays recorded,
   * or its folder is cleared at the next open.
   */
  private async prune(): Promise<void> {
    const ids = toPrune(this.current, this.options.keep);
    if (ids.length === 0) return;
    const next = afterPrune(this.current, ids, new Date().toISOString());
    try {
      await writeState(this.dir, next);
    } catch {
      return;
    }
    this.current = next;
    for (const id of ids) await this.discardFolder(this.dirOf(id)).catch(() => {});
  }

  /** Moves a folder out of versions/ in one rename, then deletes it. */
  private async discardFolder(path: string): Promise<void> {
    const trash = join(this.dir, ".trash", randomBytes(6).toString("hex"));
    try {
      await rename(path, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    await rm(trash, { recursive: true, force: true });
  }

  private async clearLeftovers(): Promise<void> {
    for (const sub of [".staging", ".trash"])
      for (const name of await readdir(join(this.dir, sub)))
        await rm(join(this.dir, sub, name), { recursive: true, force: true });
    for (const name of await readdir(this.dir))
      if (name.startsWith(".state.json.tmp-")) await rm(join(this.dir, name), { force: true });
    const recorded = new Set(this.current.installed.map((v) => v.id));
    for (const name of await readdir(join(this.dir, "versions")))
      if (!recorded.has(name)) await this.discardFolder(join(this.dir, "versions", name));
  }

  private step(s: StoreStep): void {
    this.options.onStep?.(s);
  }
}

function diskFull(err: unknown, what: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT" || code === "EFBIG")
    return new StoreError(
      `no space left on the device while ${what} (${code}); the store is unchanged. Free some space and try again`,
    );
  return err;
}

async function readState(dir: string): Promise<StoreState> {
  const path = join(dir, "state.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return emptyState();
    throw new StoreError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StoreError(
      `${path} is not valid JSON (${(err as Error).message}); restore it from a backup or remove the store`,
    );
  }
  const parsed = storeStateSchema.safeParse(json);
  if (!parsed.success) throw new StoreError(`${path} is not a model store record: ${parsed.error.issues[0]?.message}`);
  const problem = stateProblem(parsed.data);
  if (problem) throw new StoreError(`${path}: ${problem}`);
  return parsed.data;
}

async function writeState(dir: string, state: StoreState): Promise<void> {
  await replaceFileAtomic(join(dir, "state.json"), `${JSON.stringify(state, null, 2)}\n`);
}
