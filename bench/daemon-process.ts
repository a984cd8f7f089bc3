// A built daemon started by a benchmark, with the health reports its log (stdout, one JSON
// object a line) carries collected as they come.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { packageRoot } from "../src/package-info.js";

export function startDaemon<H>(configPath: string): { child: ChildProcess; healths: H[] } {
  const child = spawn(
    process.execPath,
    ["--max-semi-space-size=2", join(packageRoot, "dist/src/cli/main.js"), "run", "--config", configPath],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const healths: H[] = [];
  let buf = "";
  child.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = JSON.parse(buf.slice(0, nl)) as { health?: H };
      buf = buf.slice(nl + 1);
      if (line.health) healths.push(line.health);
    }
  });
  return { child, healths };
}
