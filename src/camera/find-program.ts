// Finds a program on PATH the way spawn() will, without running it.
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/** The program's full path, or null when it is not on PATH (or not an executable file). */
export function findProgram(name: string, path = process.env.PATH ?? ""): string | null {
  const candidates = name.includes("/") ? [name] : path.split(delimiter).map((dir) => join(dir || ".", name));
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) continue;
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return null;
}
