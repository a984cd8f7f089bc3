// Shadow mode's account of a candidate: agreement and which way it disagrees, its own drops and
// latency, as health `model.shadow` shows them.
import { describe, expect, it } from "vitest";
import { compareActions, ShadowTally } from "../../src/shadow/shadow-tally.js";

const candidate = { name: "round-parts", version: "1.1.0", sha256: "cd".repeat(32) };
const since = "2026-11-26T15:00:00.000Z";

describe("comparing the two models' actions on a frame", () => {
  it("names the direction of a disagreement by what the candidate would do", () => {
    expect(compareActions("pass", "pass")).toBe("agree");
    expect(compareActions("reject", "reject")).toBe("agree");
    expect(compareActions("pass", "reject")).toBe("candidate_rejects");
    expect(compareActions("reject", "pass")).toBe("candidate_passes");
  });
});

describe("ShadowTally", () => {
  it("reports no agreement and no latency before the first frame", () => {
    expect(new ShadowTally(candidate, since).report(null)).toEqual({
      candidate,
      since,
      frames: 0,
      dropped: 0,
      agree: 0,
      agreement: null,
      disagreements: { candidate_rejects: 0, candidate_passes: 0 },
      latency_ms: { p50: null, p99: null },
      drift: null,
    });
  });

  it("counts agreement, disagreements by direction and drops", () => {
    const t = new ShadowTally(candidate, since);
    // 7 agree, 2 where the candidate rejects a passed part, 1 where it passes a rejected one.
    const pairs: ["pass" | "reject", "pass" | "reject"][] = [
      ...Array.from({ length: 5 }, () => ["pass", "pass"] as ["pass", "pass"]),
      ["reject", "reject"],
      ["reject", "reject"],
      ["pass", "reject"],
      ["pass", "reject"],
      ["reject", "pass"],
    ];
    for (const [i, [a, c]] of pairs.entries()) t.record(a, c, i + 1);
    t.drop();
    t.drop();
    const r = t.report("warn");
    expect(r).toMatchObject({
      frames: 10,
      dropped: 2,
      agree: 7,
      agreement: 0.7,
      disagreements: { candidate_rejects: 2, candidate_passes: 1 },
      drift: "warn",
    });
    expect(r.frames).toBe(r.agree + r.disagreements.candidate_rejects + r.disagreements.candidate_passes);
  });

  it("reports the candidate's latency percentiles over the frames it decided", () => {
    const t = new ShadowTally(candidate, since);
    for (let i = 1; i <= 100; i++) t.record("pass", "pass", i);
    expect(t.report(null).latency_ms).toEqual({ p50: 51, p99: 100 });
  });

  it("rounds agreement to 4 decimals", () => {
    const t = new ShadowTally(candidate, since);
    t.record("pass", "pass", 1);
    t.record("pass", "pass", 1);
    t.record("pass", "reject", 1);
    expect(t.report(null).agreement).toBe(0.6667);
  });
});
