// The camera feeding the pipeline: started last, once everything that hears decisions listens,
// and stopped first (camera, then the slot, then the frame in flight), so every decided frame
// still reaches the store and the broker.
import type { Logger } from "pino";
import type { CameraState } from "../camera/frame.js";
import type { FrameSlot } from "../camera/frame-slot.js";
import type { CameraSource } from "../camera/source.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import type { DaemonBus, Part } from "./part.js";

export function inspection(o: {
  bus: DaemonBus;
  camera: CameraSource;
  slot: FrameSlot;
  pipeline: Pipeline;
  logger: Logger;
}): Part {
  const { camera, slot, pipeline } = o;
  const onState = (state: CameraState, why: string) => {
    o.logger.info({ camera: camera.kind, state, why }, "camera state");
    o.bus.emit("camera-state", { state, why });
  };
  return {
    name: "inspection",
    async start() {
      camera.on("state", onState);
      pipeline.start();
      try {
        await camera.start(slot);
      } catch (err) {
        // The camera cannot start at all (e.g. an unreadable replay folder; capture programs
        // retry instead): the daemon stops what was started and exits with the reason.
        pipeline.stopping();
        throw err;
      }
    },
    async stop() {
      await camera.stop();
      slot.close();
      await pipeline.stopped();
      camera.off("state", onState);
    },
  };
}
