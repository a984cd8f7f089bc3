// Probation after a promotion (docs/models.md#8-probation-and-automatic-rollback): when the
// watched rates roll the promoted model back, and what a start during probation does.
import { describe, expect, it } from "vitest";
import {
  judgeProbation,
  type ProbationLimits,
  type ProbationRecord,
  probationAtStart,
} from "../../src/model/probation.js";

const limits: ProbationLimits = {
  durationS: 600,
  minFrames: 300,
  maxRejectRateIncrease: 0.1,
  maxOodRate: 0.2,
  maxLatencyMs: 33,
  maxRestarts: 3,
};
const tally = (frames: number, rejects: number, ood = 0, latencyP50Ms: number | null = 5) => ({
  frames,
  rejects,
  ood,
  latencyP50Ms,
});

describe("probation verdict", () => {
  it("judges nothing before min_frames, however bad the first frames look", () => {
    expect(judgeProbation(tally(299, 299, 299, 500), 0.02, limits, 10).status).toBe("watching");
  });

  it("fails a reject rate beyond the expected one plus the margin, and says the numbers", () => {
    const v = judgeProbation(tally(400, 200), 0.3, limits, 30);
    expect(v).toMatchObject({ status: "failed", check: "reject_rate" });
    expect(v.reason).toMatch(/reject rate 50\.0% \(200 of 400 frames\) against the 30\.0% expected/);
    // Within the margin: fine.
    expect(judgeProbation(tally(400, 150), 0.3, limits, 30).status).toBe("watching");
    // Fewer rejects than expected is not a failure of this check (the gate judged the misses).
    expect(judgeProbation(tally(400, 0), 0.3, limits, 30).status).toBe("watching");
  });

  it("does not judge the reject rate when the model cannot say what to expect", () => {
    expect(judgeProbation(tally(400, 400), null, limits, 30).status).toBe("watching");
  });

  it("fails on the out-of-distribution rate and on latency", () => {
    expect(judgeProbation(tally(400, 100, 81), 0.25, limits, 30)).toMatchObject({ check: "ood_rate" });
    expect(judgeProbation(tally(400, 100, 0, 40), 0.25, limits, 30)).toMatchObject({ check: "latency" });
    expect(judgeProbation(tally(400, 100, 0, 40), 0.25, { ...limits, maxLatencyMs: null }, 30).status).toBe("watching");
  });

  it("passes once the time is over, saying when it saw too few frames to judge", () => {
    expect(judgeProbation(tally(400, 100), 0.25, limits, 600)).toMatchObject({ status: "passed" });
    expect(judgeProbation(tally(10, 10), 0.25, limits, 601).reason).toMatch(/only 10 frames/);
  });
});

describe("a daemon start during probation", () => {
  const record: ProbationRecord = {
    id: "m@1.1.0",
    previous: "m@1.0.0",
    started_at: "2026-11-26T15:00:00.000Z",
    until: "2026-11-26T15:10:00.000Z",
    starts: 0,
  };
  const during = new Date("2026-11-26T15:05:00.000Z");

  it("is counted up to max_restarts, then starts on previous", () => {
    let r = record;
    for (let i = 1; i <= 3; i++) {
      const next = probationAtStart(r, "m@1.1.0", during, 3);
      expect(next).toMatchObject({ action: "count", record: { starts: i } });
      if (next.action === "count") r = next.record;
    }
    const last = probationAtStart(r, "m@1.1.0", during, 3);
    expect(last).toMatchObject({ action: "rollback" });
    expect(last.action === "rollback" && last.reason).toMatch(/started 4 times .* starting on m@1\.0\.0/);
  });

  it("means nothing after the probation, for another active model, or without a record", () => {
    expect(probationAtStart(record, "m@1.1.0", new Date("2026-11-26T15:10:00.000Z"), 3).action).toBe("none");
    expect(probationAtStart(record, "m@1.0.0", during, 3).action).toBe("none");
    expect(probationAtStart(null, "m@1.1.0", during, 3).action).toBe("none");
  });
});
