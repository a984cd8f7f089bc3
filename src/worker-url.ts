// Where a worker thread's script is. Compiled, it is the .js next to the module that starts it.
// Under vitest the modules run from src/**/*.ts: there is no .js twin there and Node 20 worker
// threads cannot run TypeScript, so the compiled worker in dist/ is used (`npm test` builds dist
// first, in pretest). Kept out of `new Worker(...)` so bundler-style URL rewriting never touches it.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** `script` (e.g. "store/store-worker.js", relative to src/) for the module at `base`. */
export function workerScriptUrl(script: string, base: string): URL {
  const name = script.slice(script.lastIndexOf("/") + 1);
  const sibling = new URL(`./${name}`, base);
  if (existsSync(sibling)) return sibling;
  const compiled = new URL(`${"../".repeat(script.split("/").length)}dist/src/${script}`, base);
  if (base.endsWith(".ts") && existsSync(compiled)) return compiled;
  throw new Error(
    `worker ${name} not found at ${fileURLToPath(sibling)}` +
      (base.endsWith(".ts") ? ` nor ${fileURLToPath(compiled)}: run \`npm run build\` first` : ""),
  );
}
