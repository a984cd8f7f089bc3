// One real Mosquitto per test file, plus what its tests start: daemons and subscribers are ended
// after each test, the broker and the temporary folders after the file.
import { afterAll, afterEach, beforeAll } from "vitest";
import { cleanup, type DaemonProcess } from "./daemon.js";
import { Mosquitto, type MosquittoOptions, type TopicRecorder } from "./mosquitto.js";

export interface BrokerHarness {
  /** Started in beforeAll. */
  readonly broker: Mosquitto;
  readonly dirs: string[];
  readonly daemons: DaemonProcess[];
  readonly recorders: TopicRecorder[];
}

export function useBrokerHarness(options: MosquittoOptions = {}): BrokerHarness {
  let broker: Mosquitto | null = null;
  const h = {
    get broker(): Mosquitto {
      if (!broker) throw new Error("the broker starts in beforeAll");
      return broker;
    },
    dirs: [] as string[],
    daemons: [] as DaemonProcess[],
    recorders: [] as TopicRecorder[],
  };
  beforeAll(async () => {
    broker = await Mosquitto.start(options);
  });
  afterEach(async () => {
    for (const d of h.daemons.splice(0)) d.kill("SIGKILL");
    for (const r of h.recorders.splice(0)) await r.close();
  });
  afterAll(async () => {
    await broker?.dispose();
    for (const d of h.dirs) cleanup(d);
  });
  return h;
}
