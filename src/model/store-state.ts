// The model store's record (state.json): which versions are installed and which one is
// active, previous and candidate, and how each change moves them. Pure.
import { z } from "zod";
import { UserFacingError } from "../errors.js";

export const STORE_FORMAT = "linesight-model-store";
const id = z.string().min(1);

export const installedSchema = z.strictObject({
  id,
  name: z.string(),
  version: z.string(),
  /** sha256 of the bundle's signed index: which exact bundle this is. */
  index_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  signed_by: z.string().nullable(),
  installed_at: z.string(),
});
export type InstalledVersion = z.infer<typeof installedSchema>;

export const historySchema = z.strictObject({
  at: z.string(),
  change: z.enum(["install", "promote", "rollback", "discard", "prune"]),
  id,
  detail: z.string(),
});

export const storeStateSchema = z.strictObject({
  format: z.literal(STORE_FORMAT),
  format_version: z.literal(1),
  active: id.nullable(),
  previous: id.nullable(),
  candidate: id.nullable(),
  installed: z.array(installedSchema),
  history: z.array(historySchema),
});
export type StoreState = z.infer<typeof storeStateSchema>;

/** A change the store cannot make in its current state (no candidate, no previous, ...). */
export class StoreStateError extends UserFacingError {}

const HISTORY = 50;

export function emptyState(): StoreState {
  return {
    format: STORE_FORMAT,
    format_version: 1,
    active: null,
    previous: null,
    candidate: null,
    installed: [],
    history: [],
  };
}

/** Every pointer names an installed version, each id once: a reason when not, else null. */
export function stateProblem(s: StoreState): string | null {
  const ids = new Set(s.installed.map((v) => v.id));
  if (ids.size !== s.installed.length) return "a version is recorded twice";
  for (const k of ["active", "previous", "candidate"] as const) {
    const v = s[k];
    if (v !== null && !ids.has(v)) return `${k} is ${v}, which is not installed`;
  }
  return null;
}

function log(s: StoreState, change: StoreState["history"][number]["change"], vid: string, detail: string, at: string) {
  return [...s.history, { at, change, id: vid, detail }].slice(-HISTORY);
}

/** A newly installed version is the candidate; with no active model yet, it becomes active. */
export function afterInstall(s: StoreState, v: InstalledVersion): StoreState {
  const installed = [...s.installed.filter((x) => x.id !== v.id), v];
  if (s.active === null)
    return {
      ...s,
      installed,
      active: v.id,
      history: log(s, "install", v.id, "installed as active (no model was active)", v.installed_at),
    };
  return {
    ...s,
    installed,
    candidate: v.id,
    history: log(s, "install", v.id, "installed as candidate", v.installed_at),
  };
}

/** An already installed version made candidate again (the same bundle installed twice). */
export function asCandidate(s: StoreState, vid: string, at: string): StoreState {
  if (s.active === vid) return s;
  return { ...s, candidate: vid, history: log(s, "install", vid, "already installed; candidate again", at) };
}

export function afterPromote(s: StoreState, at: string): StoreState {
  if (s.candidate === null) throw new StoreStateError("there is no candidate model to promote; install one first");
  return {
    ...s,
    active: s.candidate,
    previous: s.active,
    candidate: null,
    history: log(s, "promote", s.candidate, `promoted; previous is ${s.active ?? "none"}`, at),
  };
}

export function afterRollback(s: StoreState, at: string): StoreState {
  if (s.previous === null) throw new StoreStateError("there is no previous model to roll back to");
  return {
    ...s,
    active: s.previous,
    previous: null,
    candidate: s.candidate === s.previous ? null : s.candidate,
    history: log(s, "rollback", s.previous, `rolled back from ${s.active ?? "none"}`, at),
  };
}

export function afterDiscard(s: StoreState, at: string): StoreState {
  if (s.candidate === null) throw new StoreStateError("there is no candidate model to discard");
  return { ...s, candidate: null, history: log(s, "discard", s.candidate, "candidate discarded", at) };
}

/**
 * Versions to delete so at most `keep` stay installed: never active, previous or candidate;
 * the oldest installs go first.
 */
export function toPrune(s: StoreState, keep: number): string[] {
  const pinned = new Set([s.active, s.previous, s.candidate]);
  const loose = s.installed.filter((v) => !pinned.has(v.id));
  const excess = s.installed.length - keep;
  if (excess <= 0) return [];
  return [...loose]
    .sort((a, b) => (a.installed_at < b.installed_at ? -1 : a.installed_at > b.installed_at ? 1 : 0))
    .slice(0, excess)
    .map((v) => v.id);
}

export function afterPrune(s: StoreState, ids: readonly string[], at: string): StoreState {
  if (ids.length === 0) return s;
  const gone = new Set(ids);
  let history = s.history;
  for (const vid of ids)
    history = log({ ...s, history }, "prune", vid, "deleted to keep the store within model.keep_versions", at);
  return { ...s, installed: s.installed.filter((v) => !gone.has(v.id)), history };
}
