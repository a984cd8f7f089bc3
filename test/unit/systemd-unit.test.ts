// The service runs the daemon the way the CLI's shebang and the package's /usr/bin/linesight do:
// the same node flags and memory settings, and the paths the package installs. A change to one
// that forgets the others would make the service differ from what was measured and tested.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/daemon.js";

const read = (p: string) => readFileSync(join(ROOT, p), "utf8");

/** Key=value lines of a unit file, repeated keys kept in order. */
function unitSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("[")) continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1)]);
  }
  return settings;
}

const unit = unitSettings(read("systemd/linesight.service"));
const one = (key: string) => unit.get(key)?.at(-1);
const shebangFlags = (read("src/cli/main.ts").split("\n")[0] as string).split(" node ")[1]?.split(" ") ?? [];

describe("systemd/linesight.service", () => {
  it("runs the bundled node with the CLI shebang's flags, the run command and the installed config", () => {
    const exec = (one("ExecStart") ?? "").split(" ");
    expect(exec[0]).toBe("/usr/lib/linesight/node/bin/node");
    expect(shebangFlags.length).toBeGreaterThan(0);
    expect(exec.slice(1, 1 + shebangFlags.length)).toEqual(shebangFlags);
    expect(exec.slice(1 + shebangFlags.length)).toEqual([
      "/usr/lib/linesight/dist/src/cli/main.js",
      "run",
      "--config",
      "/etc/linesight/config.yaml",
    ]);
  });

  it("starts the same way as /usr/bin/linesight, with the same malloc setting", () => {
    const wrapper = read("deploy/debian/linesight.sh");
    const execLine = wrapper.split("\n").find((l) => l.startsWith("exec ")) ?? "";
    expect(execLine).toBe(
      `exec /usr/lib/linesight/node/bin/node ${shebangFlags.join(" ")} /usr/lib/linesight/dist/src/cli/main.js "$@"`,
    );
    expect(one("Environment")).toContain("MALLOC_ARENA_MAX=2");
    expect(wrapper).toMatch(/^MALLOC_ARENA_MAX=\$\{MALLOC_ARENA_MAX:-2\}$/m);
  });

  it("is a notify service fed only by the main process, with a watchdog and a start limit", () => {
    expect(one("Type")).toBe("notify");
    expect(one("NotifyAccess")).toBe("main");
    expect(Number(one("WatchdogSec"))).toBeGreaterThan(0);
    expect(one("Restart")).toBe("always");
    expect(Number(one("StartLimitBurst"))).toBeGreaterThan(0);
  });

  it("keeps the database where the config's default points", () => {
    const example = read("config/linesight.example.yaml");
    expect(one("StateDirectory")).toBe("linesight");
    expect(example).toMatch(/^ {2}path: \/var\/lib\/linesight\/linesight\.db$/m);
  });

  it("passes the credentials the docs tell users to create", () => {
    const docs = read("docs/deploy.md");
    for (const cred of unit.get("LoadCredential") ?? []) {
      expect(cred).toMatch(/^linesight\.[a-z-]+$/);
      expect(docs).toContain(cred);
    }
  });
});

describe("systemd/line-io.conf (the line I/O drop-in)", () => {
  const dropIn = unitSettings(read("systemd/line-io.conf"));
  it("gives back what the line needs and the unit forbids: priority, its syscalls, the GPIO chips, port 502", () => {
    expect(unit.get("RestrictRealtime")).toEqual(["yes"]);
    expect(dropIn.get("RestrictRealtime")).toEqual(["no"]);
    for (const key of ["CapabilityBoundingSet", "AmbientCapabilities"])
      expect(dropIn.get(key)?.[0]?.split(" ").sort()).toEqual(["CAP_NET_BIND_SERVICE", "CAP_SYS_NICE"]);
    // The unit denies @resources after allowing @system-service; a later allow-list line re-adds these.
    expect(unit.get("SystemCallFilter")?.[1]).toMatch(/~.*@resources/);
    expect(dropIn.get("SystemCallFilter")?.[0]?.split(" ")).toEqual(
      expect.arrayContaining(["sched_setscheduler", "setpriority"]),
    );
    expect(dropIn.get("DeviceAllow")).toEqual(["char-gpiochip rw"]);
    expect(read("deploy/build-deb.sh")).toContain("systemd/line-io.conf");
  });
});
