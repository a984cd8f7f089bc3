// Where linesight is installed and which version it is, found from this file's location so it
// works from the compiled dist/ tree, from sources under vitest, and from a .deb install.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "linesight")
      return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find linesight's package.json above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export const packageRoot = findRoot();
export const version = (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string })
  .version;
