// Which configuration a command uses: --config FILE, else /etc/linesight/config.yaml if it
// exists, else the built-in demo defaults (bundled footage, local database, embedded broker).
import { existsSync } from "node:fs";
import { builtinConfig, type LoadedConfig, loadConfig } from "../config/load.js";
import { packageRoot } from "../package-info.js";

export const DEFAULT_CONFIG_PATH = "/etc/linesight/config.yaml";

export async function resolveConfig(path: string | undefined): Promise<LoadedConfig> {
  if (path) return loadConfig(path);
  if (existsSync(DEFAULT_CONFIG_PATH)) return loadConfig(DEFAULT_CONFIG_PATH);
  return builtinConfig(packageRoot);
}
