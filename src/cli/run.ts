// `linesight run`: the daemon.
import { parseArgs } from "node:util";
import { pino } from "pino";
import { parseDriftSpec } from "../camera/drift-injection.js";
import { type Config, lineSchema } from "../config/schema.js";
import { runDaemon } from "../daemon.js";
import { resolveConfig } from "./config-source.js";
import { UsageError } from "./usage.js";

export const RUN_HELP = `Usage: linesight run [--config FILE] [--inject-drift KIND:AMOUNT@FRAME[+RAMP]]
                     [--simulate-line [--parts-per-s N]]

Runs the inspection daemon until SIGTERM/SIGINT. Logs JSON lines to stdout (journald).
Without --config it reads /etc/linesight/config.yaml, or, if that does not exist, runs the
built-in demo: the bundled footage replayed as a camera, the default model, a local SQLite
database under data/, and an embedded MQTT broker on localhost:1883.

--inject-drift changes the replayed frames from frame FRAME on (over RAMP frames, default at
once) so the drift detector can be watched at work; KIND is brightness (relative, -0.2 = 20%
darker), cast (relative warm cast), blur (sigma in pixels) or shift (share of the width).
Example: npm start -- --inject-drift brightness:-0.2@300

--simulate-line acts on a simulated line: parts (the replayed footage's frames, with their
labels) pass a photo-eye at N parts/s (default 10), a triggered camera takes each part's picture,
the reject output drives a simulated air jet 250 ms downstream, and the PLC's Modbus server
listens on 127.0.0.1:5020. The health report's line section keeps the account: every part's fate
against its true label and what the ejector did (docs/line-io.md). A config that already has
line.backend: simulated (or line.simulation.gpio_sim, on a gpio-sim chip) is used as it is.`;

/** The demo's simulated line (pure): the config's own when it has one, else the demo's settings. */
export function simulatedLineConfig(config: Config, partsPerS: number | null): Config["line"] {
  const own = config.line.backend === "simulated" || config.line.simulation.gpio_sim;
  const line: Config["line"] = own
    ? { ...config.line, enabled: true }
    : lineSchema.parse({
        enabled: true,
        backend: "simulated",
        trigger: { source: "gpio", debounce_ms: 2, capture_delay_ms: 10 },
        reject: { delay_ms: 250, pulse_ms: 20 },
        fail_safe: config.line.fail_safe,
        modbus: { enabled: true, host: "127.0.0.1", port: 5020 },
      });
  if (partsPerS !== null) line.simulation = { ...line.simulation, parts_per_s: partsPerS };
  return line;
}

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      "inject-drift": { type: "string" },
      "simulate-line": { type: "boolean" },
      "parts-per-s": { type: "string" },
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
  if (values["parts-per-s"] !== undefined && !values["simulate-line"])
    throw new UsageError("--parts-per-s goes with --simulate-line");
  if (values["simulate-line"]) {
    if (loaded.config.camera.source !== "replay")
      throw new UsageError(
        "--simulate-line shows the replayed footage as the line's parts: it needs camera.source replay",
      );
    const rate = values["parts-per-s"] === undefined ? null : Number(values["parts-per-s"]);
    if (rate !== null && !(rate > 0 && rate <= 1000))
      throw new UsageError(
        `--parts-per-s: expected a number of parts per second (0-1000], got ${values["parts-per-s"]}`,
      );
    loaded.config.line = simulatedLineConfig(loaded.config, rate);
  }
  const logger = pino({
    level: loaded.config.log.level,
    base: { device: loaded.config.device.id },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
  return runDaemon(loaded, logger);
}
