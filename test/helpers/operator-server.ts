// Options for an operator server started on its own in a test (no daemon): loopback, a free
// port, a fixed status; `over` sets what the test is about (token, viewing, hosts, cookies).
import { join } from "node:path";
import { pino } from "pino";
import type { OperatorServerOptions } from "../../src/http/operator-server.js";
import { ROOT } from "./daemon.js";

export function standaloneServerOptions(
  databasePath: string,
  over: Partial<OperatorServerOptions> & Pick<OperatorServerOptions, "token" | "readOnlyOpen">,
): OperatorServerOptions {
  return {
    host: "127.0.0.1",
    port: 0,
    liveMaxRateHz: 10,
    databasePath,
    deviceId: "line7-cam1",
    labels: ["good", "defect"],
    goodLabel: "good",
    defectKinds: ["crack", "chip", "other"],
    webDir: join(ROOT, "web"),
    status: () => ({
      camera: { state: "streaming", source: "replay" },
      pipeline: "running",
      model: { name: "m", version: "1", threshold: 0.5 },
      drift: null,
      broker: { connected: true, queued: 0 },
      expectedRejectRate: null,
      latency: null,
    }),
    logger: pino({ level: "silent" }),
    ...over,
  };
}
