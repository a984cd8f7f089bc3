import { describe, expect, it } from "vitest";
import { SnapshotRequests } from "../../src/pipeline/snapshot-requests.js";

describe("snapshot requests", () => {
  it("costs nothing when nobody waits", () => {
    expect(new SnapshotRequests().take(1, 1000)).toBeNull();
  });

  it("answers every request waiting with the next frame, once", async () => {
    const s = new SnapshotRequests();
    const a = s.next(1000);
    const b = s.next(1000);
    const answer = s.take(7, 1234);
    expect(answer).not.toBeNull();
    expect(s.take(8, 1300)).toBeNull(); // already taken: the next frame is not a snapshot
    answer?.(true);
    expect(await a).toEqual({ seq: 7, capturedAt: 1234, stored: true });
    expect(await b).toEqual({ seq: 7, capturedAt: 1234, stored: true });
  });

  it("gives up after the timeout and forgets the request", async () => {
    const s = new SnapshotRequests();
    expect(await s.next(20)).toBeNull();
    expect(s.take(1, 1)).toBeNull();
  });
});
