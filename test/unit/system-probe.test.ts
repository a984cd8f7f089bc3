// The probe against a stand-in sysfs tree shaped like a Raspberry Pi's and a Jetson's (this
// machine exposes neither).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { diskFree, readThermalZones, SystemProbe } from "../../src/monitor/system-probe.js";
import { parseThrottled, throttledProblems } from "../../src/monitor/throttled.js";

const root = mkdtempSync(join(tmpdir(), "linesight-sysfs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function zone(dir: string, n: number, type: string, milli: string) {
  mkdirSync(join(dir, `thermal_zone${n}`), { recursive: true });
  writeFileSync(join(dir, `thermal_zone${n}`, "type"), `${type}\n`);
  writeFileSync(join(dir, `thermal_zone${n}`, "temp"), `${milli}\n`);
}

describe("Raspberry Pi firmware throttled flags", () => {
  it("parses vcgencmd's and sysfs's forms", () => {
    expect(parseThrottled("throttled=0x50005")).toMatchObject({
      raw: 0x50005,
      under_voltage: true,
      throttled: true,
      freq_capped: false,
      under_voltage_occurred: true,
      throttled_occurred: true,
    });
    expect(parseThrottled("50005\n")?.raw).toBe(0x50005);
    expect(parseThrottled("0")?.under_voltage).toBe(false);
    expect(parseThrottled("not a number")).toBeNull();
  });

  it("says what to do about a problem happening now, and nothing about old ones", () => {
    expect(throttledProblems(parseThrottled("0x1") as never)[0]).toMatch(/under-voltage.*power supply/);
    expect(throttledProblems(parseThrottled("0x50000") as never)).toEqual([]);
  });
});

describe("SystemProbe", () => {
  it("reads every thermal zone and reports the hottest", async () => {
    const thermal = join(root, "jetson");
    zone(thermal, 0, "CPU-therm", "48500");
    zone(thermal, 1, "GPU-therm", "51000");
    mkdirSync(join(thermal, "cooling_device0"));
    const throttledPath = join(root, "get_throttled");
    writeFileSync(throttledPath, "4\n");
    const r = await new SystemProbe({
      diskPath: join(root, "no-db-yet.sqlite"),
      thermalRoot: thermal,
      throttledPath,
    }).read();
    expect(r.thermal_zones).toEqual({ "CPU-therm": 48.5, "GPU-therm": 51 });
    expect(r.temperature_c).toBe(51);
    expect(r.throttled?.throttled).toBe(true);
    expect(r.disk_free_mb).toBeGreaterThan(0);
    expect(r.cpu_percent).toBeGreaterThanOrEqual(0);
  });

  it("reads null where the platform has no sensor, and skips unreadable zones", async () => {
    const pi = join(root, "pi");
    zone(pi, 0, "cpu-thermal", "garbage");
    expect(await readThermalZones(pi)).toEqual({});
    const r = await new SystemProbe({
      diskPath: root,
      thermalRoot: join(root, "missing"),
      throttledPath: join(root, "missing"),
    }).read();
    expect(r.temperature_c).toBeNull();
    expect(r.throttled).toBeNull();
  });

  it("measures free disk space on the nearest existing parent of the database path", async () => {
    const d = await diskFree(join(root, "a", "b", "linesight.db"));
    expect(d?.freeMb).toBeGreaterThan(0);
    expect(d?.freePercent).toBeGreaterThan(0);
    expect(d?.freePercent).toBeLessThanOrEqual(100);
  });
});
