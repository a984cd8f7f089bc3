// The problems parseConfig reports for a raw (already parsed YAML) config, or [] when it is valid.
import { ConfigError, parseConfig } from "../../src/config/load.js";

export function configProblems(raw: unknown): string[] {
  try {
    parseConfig(raw, "test.yaml", "/etc/linesight");
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}
