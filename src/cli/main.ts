#!/usr/bin/env -S node --max-semi-space-size=2
// linesight command line: one entry point, one module per command group.
// The shebang's 2 MB young generation (instead of 16) keeps the daemon's resident set about 30 MB
// smaller; the frame loop's garbage is small and short-lived (docs/performance.md).
import { UserFacingError } from "../errors.js";
import { UsageError } from "./usage.js";

const HELP = `linesight: edge visual inspection daemon

Usage: linesight <command> [options]

Commands:
  run                       run the inspection daemon (the systemd service's command)
  check                     validate config, model, camera and storage; list every problem
  cameras                   list the cameras on this machine, with a config section for each
  model eval|profile|card   evaluate a model, write its reference statistics, render its card
  model keygen|pack|verify  signed model bundles (.lsm)
  model install|status|promote|rollback|gate   the model store on a device, and the gate
  dataset pack              preprocess labelled frames for training
  samples export            labeled samples out as a dataset (folders, tar, CSV, JSONL, Label Studio)

Run 'linesight <command> --help' for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    // Each command group is loaded on demand: the model tools need none of the daemon.
    case "run":
      return (await import("./run.js")).runCommand(rest);
    case "check":
      return (await import("./check.js")).checkCommand(rest);
    case "cameras":
      return (await import("./cameras.js")).camerasCommand(rest);
    case "model":
      return (await import("./model-commands.js")).modelCommand(rest);
    case "dataset":
      return (await import("./model-commands.js")).datasetCommand(rest);
    case "samples":
      return (await import("./samples.js")).samplesCommand(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(HELP);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Expected failures (bad config, refused model, unwritable database) are one clear message;
    // a stack trace only for bugs, or when LINESIGHT_DEBUG is set.
    const expected = err instanceof UserFacingError;
    const text =
      err instanceof Error ? (expected && !process.env.LINESIGHT_DEBUG ? err.message : err.stack) : String(err);
    console.error(`linesight: ${text}`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
