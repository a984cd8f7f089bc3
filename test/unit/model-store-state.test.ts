import { describe, expect, it } from "vitest";
import {
  afterDiscard,
  afterInstall,
  afterPromote,
  afterPrune,
  afterRollback,
  emptyState,
  type InstalledVersion,
  type StoreState,
  stateProblem,
  toPrune,
} from "../../src/model/store-state.js";

const v = (version: string, minute: number): InstalledVersion => ({
  id: `m@${version}`,
  name: "m",
  version,
  index_sha256: "a".repeat(64),
  signed_by: null,
  installed_at: `2026-01-01T00:${String(minute).padStart(2, "0")}:00.000Z`,
});
const at = "2026-01-02T00:00:00.000Z";
const ptr = (s: StoreState) => [s.active, s.previous, s.candidate];

describe("model store transitions", () => {
  it("install: first active, then candidate (replacing an earlier candidate)", () => {
    let s = afterInstall(emptyState(), v("1.0.0", 1));
    expect(ptr(s)).toEqual(["m@1.0.0", null, null]);
    s = afterInstall(s, v("1.1.0", 2));
    expect(ptr(s)).toEqual(["m@1.0.0", null, "m@1.1.0"]);
    s = afterInstall(s, v("1.2.0", 3));
    expect(ptr(s)).toEqual(["m@1.0.0", null, "m@1.2.0"]);
    expect(stateProblem(s)).toBeNull();
  });

  it("promote, rollback and discard move the pointers, and refuse when there is nothing to move", () => {
    let s = afterInstall(afterInstall(emptyState(), v("1.0.0", 1)), v("1.1.0", 2));
    expect(() => afterRollback(s, at)).toThrow("there is no previous model to roll back to");
    s = afterPromote(s, at);
    expect(ptr(s)).toEqual(["m@1.1.0", "m@1.0.0", null]);
    expect(() => afterPromote(s, at)).toThrow("there is no candidate model to promote");
    expect(() => afterDiscard(s, at)).toThrow("there is no candidate model to discard");
    s = afterRollback(s, at);
    expect(ptr(s)).toEqual(["m@1.0.0", null, null]);
    expect(s.history.map((h) => `${h.change} ${h.id}`)).toEqual([
      "install m@1.0.0",
      "install m@1.1.0",
      "promote m@1.1.0",
      "rollback m@1.0.0",
    ]);
  });

  it("prunes the oldest unpinned versions only", () => {
    let s = emptyState();
    for (const [i, ver] of ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"].entries()) {
      s = afterInstall(s, v(ver, i));
      if (s.candidate) s = afterPromote(s, at);
    }
    s = afterInstall(s, v("2.0.0", 9)); // candidate
    expect(toPrune(s, 3)).toEqual(["m@1.0.0", "m@1.1.0", "m@1.2.0"]);
    const pruned = afterPrune(s, toPrune(s, 3), at);
    expect(pruned.installed.map((x) => x.id)).toEqual(["m@1.3.0", "m@1.4.0", "m@2.0.0"]);
    // Pinned versions stay even beyond `keep`.
    expect(toPrune(pruned, 2)).toEqual([]);
  });

  it("finds a record whose pointers name versions that are not installed", () => {
    const s = { ...afterInstall(emptyState(), v("1.0.0", 1)), previous: "m@0.9.0" };
    expect(stateProblem(s)).toBe("previous is m@0.9.0, which is not installed");
  });
});
