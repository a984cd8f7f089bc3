#!/usr/bin/env node
// linesight command line: one entry point, one module per command group.
import { datasetCommand, modelCommand } from "./model-commands.js";
import { UsageError } from "./usage.js";

const HELP = `linesight: edge visual inspection daemon

Usage: linesight <command> [options]

Commands:
  model eval|profile|card   evaluate a model, write its reference statistics, render its card
  dataset pack              preprocess labelled frames for training

Run 'linesight <command> --help' for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "model":
      return modelCommand(rest);
    case "dataset":
      return datasetCommand(rest);
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
    const known = err instanceof UsageError || (err instanceof Error && err.constructor.name.endsWith("Error") && err.name !== "Error");
    console.error(`linesight: ${err instanceof Error ? (known ? err.message : err.stack) : String(err)}`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
