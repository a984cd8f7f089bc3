// The shadow's single slot: while the candidate decides one frame, only the newest live frame
// waits; each one it replaces is the candidate's own drop. The candidate here is a stand-in whose
// inference finishes only when the test says so, so which frames it decides is exact.
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { Frame } from "../../src/camera/frame.js";
import { driftSchema } from "../../src/config/schema.js";
import { BufferShare } from "../../src/model/preprocess.js";
import { modelShadow, type ShadowDecided } from "../../src/parts/model-shadow.js";
import type { DaemonEvents } from "../../src/parts/part.js";
import type { ActiveModel } from "../../src/pipeline/active-model.js";
import { EventBus } from "../../src/pipeline/event-bus.js";
import type { DecidedFrame } from "../../src/pipeline/pipeline.js";

const logger = pino({ level: "silent" });

/** A candidate whose every inference waits for release(); it scores each frame by its seq. */
function heldCandidate() {
  const waiting: (() => void)[] = [];
  let released = false;
  const model = {
    identity: { name: "held", version: "2.0.0", sha256: "ee".repeat(32) },
    policy: {
      threshold: 0.5,
      uncertainBand: 0,
      uncertainAction: "reject",
      negativeLabel: "good",
      positiveLabel: "defect",
    },
    driftReference: null,
    preprocessor: {
      width: 2,
      height: 2,
      run: async (data: Buffer) => ({ tensor: new Float32Array([data[0] as number]), rgb: new Uint8Array(12) }),
    },
    session: {
      run: (tensor: Float32Array) =>
        new Promise<{ score: number }>((resolve) => waiting.push(() => resolve({ score: (tensor[0] as number) / 10 }))),
    },
    release: async () => {
      released = true;
    },
  } as unknown as ActiveModel;
  return {
    model,
    get released() {
      return released;
    },
    get waiting() {
      return waiting.length;
    },
    /** Lets the oldest waiting inference finish. */
    next: () => waiting.shift()?.(),
  };
}

const decided = (seq: number, action: "pass" | "reject"): DecidedFrame =>
  ({
    frame: { seq, data: Buffer.from([seq]), capturedAt: 0, capturedMono: 0 } as Frame,
    decision: { action, label: action === "reject" ? "defect" : "good", uncertain: false },
    score: action === "reject" ? 0.9 : 0.1,
  }) as DecidedFrame;

const settle = () => new Promise((r) => setTimeout(r, 10));

describe("the shadow candidate's single frame slot", () => {
  it("decides the frame in hand and the newest one waiting, counting each frame replaced as dropped", async () => {
    const bus = new EventBus<DaemonEvents>(logger);
    const shadow = modelShadow({ bus, drift: driftSchema.parse({}), logger });
    await shadow.start?.();
    const seen: ShadowDecided[] = [];
    bus.on("test", "shadow-decided", (s) => seen.push(s));
    const c = heldCandidate();
    await shadow.setCandidate(c.model);

    bus.emit("decided", decided(1, "pass")); // taken at once
    await settle();
    for (const seq of [2, 3, 4]) bus.emit("decided", decided(seq, "pass")); // 2 and 3 replaced
    await settle();
    expect(c.waiting).toBe(1);
    expect(shadow.report()).toMatchObject({ frames: 0, dropped: 2 });

    c.next(); // frame 1 decided; frame 4 taken from the slot
    await settle();
    c.next();
    await settle();
    expect(seen.map((s) => s.active.frame.seq)).toEqual([1, 4]);
    // Scores 0.1 and 0.4 at threshold 0.5: the candidate passes both, as the active model did.
    expect(shadow.report()).toMatchObject({ frames: 2, dropped: 2, agree: 2, agreement: 1 });

    bus.emit("decided", decided(7, "pass")); // score 0.7: the candidate would reject
    await settle();
    c.next();
    await settle();
    expect(seen.at(-1)?.comparison).toBe("candidate_rejects");
    expect(shadow.report()?.disagreements).toEqual({ candidate_rejects: 1, candidate_passes: 0 });

    // Stopping waits for nothing in flight here and releases the candidate.
    await shadow.stop?.();
    expect(c.released).toBe(true);
    expect(shadow.report()).toBeNull();
  });

  it("releases a replaced candidate only after the frame it is deciding", async () => {
    const bus = new EventBus<DaemonEvents>(logger);
    const shadow = modelShadow({ bus, drift: driftSchema.parse({}), logger });
    await shadow.start?.();
    const a = heldCandidate();
    const b = heldCandidate();
    await shadow.setCandidate(a.model);
    bus.emit("decided", decided(1, "pass"));
    await settle();
    let replaced = false;
    const swap = shadow.setCandidate(b.model).then(() => {
      replaced = true;
    });
    await settle();
    expect(a.released).toBe(false); // frame 1 still with it
    expect(replaced).toBe(false);
    a.next();
    await swap;
    expect(a.released).toBe(true);
    // The replaced candidate's late decision is not counted for the new one.
    expect(shadow.report()).toMatchObject({ candidate: b.model.identity, frames: 0, dropped: 0 });
    await shadow.stop?.();
    expect(b.released).toBe(true);
  });

  it("hands its loaded candidate over unreleased, after the frame in hand, only to the model asked for", async () => {
    const bus = new EventBus<DaemonEvents>(logger);
    const shadow = modelShadow({ bus, drift: driftSchema.parse({}), logger });
    await shadow.start?.();
    const c = heldCandidate();
    await shadow.setCandidate(c.model);
    expect(await shadow.takeCandidate("ff".repeat(32))).toBeNull(); // another model: nothing changes
    expect(shadow.report()).not.toBeNull();
    bus.emit("decided", decided(1, "pass"));
    await settle();
    let taken: ActiveModel | null = null;
    const take = shadow.takeCandidate(c.model.identity.sha256).then((m) => {
      taken = m;
    });
    await settle();
    expect(taken).toBeNull(); // frame 1 still with it
    c.next();
    await take;
    expect(taken).toBe(c.model);
    expect(c.released).toBe(false);
    expect(shadow.report()).toBeNull();
    bus.emit("decided", decided(2, "pass")); // no candidate: nothing runs
    await settle();
    expect(c.waiting).toBe(0);
    await shadow.stop?.();
    expect(c.released).toBe(false); // the taker owns it now
  });

  it("gives its own preprocessing buffers back whether its inference succeeds or throws", async () => {
    const bus = new EventBus<DaemonEvents>(logger);
    const shadow = modelShadow({ bus, drift: driftSchema.parse({}), logger });
    await shadow.start?.();
    let given = 0;
    const model = {
      ...heldCandidate().model,
      // Another input spec than the active model's: the candidate preprocesses each frame itself.
      preprocessor: {
        key: "candidate's own",
        run: async (data: Buffer) => ({
          tensor: new Float32Array([data[0] as number]),
          features: new Float64Array(6),
          share: new BufferShare(() => given++),
        }),
      },
      session: {
        run: async (tensor: Float32Array) => {
          if (tensor[0] === 2) throw new Error("inference failed");
          return { score: 0.1 };
        },
      },
    } as unknown as ActiveModel;
    await shadow.setCandidate(model);
    for (const seq of [1, 2, 3]) {
      bus.emit("decided", decided(seq, "pass"));
      await settle();
    }
    expect(given).toBe(3);
    expect(shadow.failed).toBe(1);
    expect(shadow.report()).toMatchObject({ frames: 2 });
    await shadow.stop?.();
  });
});
