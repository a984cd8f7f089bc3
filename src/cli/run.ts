// `linesight run`: the daemon.
import { parseArgs } from "node:util";
import { pino } from "pino";
import { parseDriftSpec } from "../camera/drift-injection.js";
import { runDaemon } from "../daemon.js";
import { resolveConfig } from "./config-source.js";
import { UsageError } from "./usage.js";

export const RUN_HELP = `Usage: linesight run [--config FILE] [--inject-drift KIND:AMOUNT@FRAME[+RAMP]]

Runs the inspection daemon until SIGTERM/SIGINT. Logs JSON lines to stdout (journald).
Without --config it reads /etc/linesight/config.yaml, or, if that does not exist, runs the
built-in demo: the bundled footage replayed as a camera, the default model, a local SQLite
database under data/, and an embedded MQTT broker on localhost:1883.

--inject-drift changes the replayed frames from frame FRAME on (over RAMP frames, default at
once) so the drift detector can be watched at work; KIND is brightness (relative, -0.2 = 20%
darker), cast (relative warm cast), blur (sigma in pixels) or shift (share of the width).
Example: npm start -- --inject-drift brightness:-0.2@300`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      "inject-drift": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(RUN_HELP);
    return 0;
  }
  const loaded = await resolveConfig(values.config);
  if (values["inject-drift"]) {
    let drift: ReturnType<typeof parseDriftSpec>;
    try {
      drift = parseDriftSpec(values["inject-drift"]);
    } catch (err) {
      throw new UsageError(`--inject-drift: ${(err as Error).message}`);
    }
    if (loaded.config.camera.source !== "replay")
      throw new UsageError("--inject-drift works on the replay camera only");
    loaded.config.camera.replay.drift = drift;
  }
  const logger = pino({
    level: loaded.config.log.level,
    base: { device: loaded.config.device.id },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
  return runDaemon(loaded, logger);
}
