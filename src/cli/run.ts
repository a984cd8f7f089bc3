// `linesight run`: the daemon.
import { parseArgs } from "node:util";
import { pino } from "pino";
import { runDaemon } from "../daemon.js";
import { resolveConfig } from "./config-source.js";

export const RUN_HELP = `Usage: linesight run [--config FILE]

Runs the inspection daemon until SIGTERM/SIGINT. Logs JSON lines to stdout (journald).
Without --config it reads /etc/linesight/config.yaml, or, if that does not exist, runs the
built-in demo: the bundled footage replayed as a camera, the default model, a local SQLite
database under data/, and an embedded MQTT broker on localhost:1883.`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(RUN_HELP);
    return 0;
  }
  const loaded = await resolveConfig(values.config);
  const logger = pino({
    level: loaded.config.log.level,
    base: { device: loaded.config.device.id },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
  return runDaemon(loaded, logger);
}
