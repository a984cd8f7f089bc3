import { describe, expect, it } from "vitest";
import { gateLine, headline, type StatusInputs, statusLines } from "../../src/http/status-text.js";

const base: StatusInputs = {
  camera: { state: "streaming", source: "libcamera" },
  pipeline: "running",
  model: { name: "round-parts", version: "1.0.0", threshold: 0.88 },
  drift: { status: "ok", reasons: [], ready: true },
  broker: { connected: true, queued: 0 },
};

describe("status in plain words", () => {
  it("all well", () => {
    const s = statusLines(base);
    expect(Object.values(s).map((l) => l.light)).toEqual(["ok", "ok", "ok", "ok"]);
    expect(s.camera).toEqual({ light: "ok", title: "Camera (libcamera)", text: "Frames are arriving" });
    expect(s.model.text).toBe("Model round-parts 1.0.0, threshold 0.88");
  });

  it("says what changed and what to do", () => {
    const s = statusLines({
      ...base,
      camera: { state: "stalled", source: "libcamera" },
      pipeline: "paused",
      drift: {
        status: "alarm",
        reasons: ["brightness down 22% (PSI 0.41; all colours alike): check the lighting and the camera's exposure"],
        ready: true,
      },
      broker: { connected: false, queued: 12 },
    });
    expect(s.camera).toMatchObject({ light: "alarm", text: expect.stringMatching(/No frames .* check its cable/) });
    expect(s.model).toMatchObject({ light: "warn", text: "Paused: parts are NOT being inspected" });
    expect(s.drift).toMatchObject({
      light: "alarm",
      text: "Lighting changed: brightness down 22% (PSI 0.41; all colours alike): check the lighting and the camera's exposure",
    });
    expect(s.broker.text).toBe("Broker unreachable: 12 message(s) kept for later; inspection goes on");
  });

  it("names the kind of drift", () => {
    expect(headline("sharpness down 30% (PSI 0.5): check focus and clean the lens")).toMatch(/^Picture less sharp: /);
    expect(headline("colour cast: red up 8% (PSI 0.3): check the lights")).toMatch(/^Lighting changed: colour cast/);
    expect(headline("reject rate 9.0% vs 2.0% expected (z 6.1): check the parts and the model")).toMatch(
      /^Reject rate unusual: /,
    );
    expect(headline("something new")).toBe("Something new");
  });

  it("is honest before it knows", () => {
    expect(statusLines({ ...base, drift: null }).drift).toMatchObject({ light: "off", text: "Drift detection is off" });
    expect(statusLines({ ...base, drift: { status: "ok", reasons: [], ready: false } }).drift.text).toMatch(
      /Collecting frames/,
    );
  });
});

describe("a model on trial (shadow mode), in plain words", () => {
  const shadow = {
    candidate: { name: "round-parts", version: "1.1.0" },
    frames: 590,
    agreement: 0.9881,
    disagreements: { candidate_rejects: 5, candidate_passes: 2 },
    drift: "ok" as const,
  };

  it("is absent without a candidate", () => {
    expect(statusLines(base).shadow).toBeUndefined();
    expect(statusLines({ ...base, shadow: null }).shadow).toBeUndefined();
  });

  it("says how often it agrees and where it would have decided differently", () => {
    expect(statusLines({ ...base, shadow }).shadow).toEqual({
      light: "ok",
      title: "Model on trial",
      text:
        "Trying model round-parts 1.1.0 beside the running one (not acted on): same decision on 98.8% of 590 parts; " +
        'it would have rejected 5 part(s) that passed and passed 2 that were rejected: label them (reason "disagreement")',
    });
  });

  it("says when it has not seen a part yet, never differed, or the line is unlike its training data", () => {
    expect(statusLines({ ...base, shadow: { ...shadow, frames: 0, agreement: null } }).shadow?.text).toMatch(
      /not acted on\): no part yet$/,
    );
    const same = { ...shadow, agreement: 1, disagreements: { candidate_rejects: 0, candidate_passes: 0 } };
    expect(statusLines({ ...base, shadow: same }).shadow?.text).toMatch(
      /100% of 590 parts; it never decided differently$/,
    );
    const drifted = statusLines({ ...base, shadow: { ...shadow, drift: "alarm" } }).shadow;
    expect(drifted?.light).toBe("warn");
    expect(drifted?.text).toMatch(/the line does not look like its training data$/);
  });
});

describe("the model gate on the live view", () => {
  const gate = {
    at: "2026-11-26T16:00:00.000Z",
    candidate: "round-parts@1.1.0",
    active: "round-parts@1.0.0",
    samples: 412,
    missed: { candidate: 0.075, active: 0.0125 },
    falseRejects: { candidate: 0.004, active: 0.006 },
  };
  it("says a refusal in plain words, with both models' rates and the first reason", () => {
    const l = gateLine({ ...gate, verdict: "refuse", reasons: ["the candidate misses 6.25 points more defects"] });
    expect(l).toEqual({
      light: "warn",
      title: "Model gate",
      text: "Refused: round-parts@1.1.0 against round-parts@1.0.0 on 412 labeled parts: misses 7.5% of defects (now 1.3%), rejects 0.4% of good parts (now 0.6%). the candidate misses 6.25 points more defects",
    });
  });
  it("says a pass, and where a rate is unknown", () => {
    const l = gateLine({ ...gate, verdict: "pass", reasons: [], missed: { candidate: null, active: 0 } });
    expect(l.light).toBe("ok");
    expect(l.text).toMatch(/^Passed: .*misses \? of defects \(now 0%\)/);
  });
});
