// One frame from a camera source, for `linesight check`: starts it, waits for the first frame,
// stops it. Gives up at the source's first failure instead of waiting through its retries.
import type { Frame } from "./frame.js";
import { FrameSlot } from "./frame-slot.js";
import type { CameraSource } from "./source.js";

export async function grabFrame(
  source: CameraSource & { lastError?: string | null },
  timeoutMs: number,
): Promise<Frame> {
  const slot = new FrameSlot();
  let onState: ((state: string) => void) | null = null;
  let timer: NodeJS.Timeout | null = null;
  try {
    await source.start(slot);
    return await Promise.race([
      slot.take().then((f) => {
        if (!f) throw new Error("the camera closed before its first frame");
        return f;
      }),
      new Promise<never>((_, reject) => {
        onState = (state) => {
          if (state === "failed" || state === "stalled") reject(new Error(source.lastError ?? `camera ${state}`));
        };
        source.on("state", onState);
        timer = setTimeout(() => reject(new Error(`no frame within ${(timeoutMs / 1000).toFixed(0)} s`)), timeoutMs);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
    if (onState) source.off("state", onState);
    await source.stop();
    slot.close();
  }
}
