// Reads what the platform exposes about the device's condition: CPU temperature (thermal zones,
// on Raspberry Pi and Jetson alike), the Pi firmware's throttled flags, free disk space where the
// database lives, and this process's CPU use. Anything the platform lacks reads as null.
import { readdir, readFile, statfs } from "node:fs/promises";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { parseThrottled, type ThrottledFlags } from "./throttled.js";

export interface SystemReadings {
  /** This process, % of one core, since the previous reading. */
  cpu_percent: number;
  load_1m: number;
  /** Hottest thermal zone, °C. */
  temperature_c: number | null;
  /** Every thermal zone by its type (e.g. cpu-thermal, GPU-therm), °C. */
  thermal_zones: Record<string, number>;
  throttled: ThrottledFlags | null;
  disk_free_mb: number | null;
  disk_free_percent: number | null;
}

export interface SystemProbeOptions {
  /** A file or folder on the disk to watch (the database's). */
  diskPath: string;
  thermalRoot?: string;
  /** sysfs file with the Pi firmware's throttled flags (kernel 6.1+ on Raspberry Pi OS). */
  throttledPath?: string;
}

const THERMAL_ROOT = "/sys/class/thermal";
const THROTTLED_PATH = "/sys/devices/platform/soc/soc:firmware/get_throttled";

export class SystemProbe {
  private lastCpu = process.cpuUsage();
  private lastAt = performance.now();

  constructor(private readonly opts: SystemProbeOptions) {}

  async read(): Promise<SystemReadings> {
    const [zones, throttled, disk] = await Promise.all([
      readThermalZones(this.opts.thermalRoot ?? THERMAL_ROOT),
      readFile(this.opts.throttledPath ?? THROTTLED_PATH, "utf8").then(parseThrottled, () => null),
      diskFree(this.opts.diskPath),
    ]);
    const temps = Object.values(zones);
    return {
      cpu_percent: this.cpuPercent(),
      load_1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
      temperature_c: temps.length ? Math.max(...temps) : null,
      thermal_zones: zones,
      throttled,
      disk_free_mb: disk?.freeMb ?? null,
      disk_free_percent: disk?.freePercent ?? null,
    };
  }

  private cpuPercent(): number {
    const now = performance.now();
    const used = process.cpuUsage(this.lastCpu);
    this.lastCpu = process.cpuUsage();
    const elapsedUs = Math.max(1, (now - this.lastAt) * 1000);
    this.lastAt = now;
    return Math.round(((used.user + used.system) / elapsedUs) * 1000) / 10;
  }
}

export async function readThermalZones(root: string): Promise<Record<string, number>> {
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => n.startsWith("thermal_zone")).sort();
  } catch {
    return {};
  }
  const zones: Record<string, number> = {};
  await Promise.all(
    names.map(async (n) => {
      try {
        const [type, temp] = await Promise.all([
          readFile(join(root, n, "type"), "utf8"),
          readFile(join(root, n, "temp"), "utf8"),
        ]);
        const c = Number(temp.trim()) / 1000; // millidegrees
        if (Number.isFinite(c) && c > -50 && c < 200) zones[type.trim() || n] = Math.round(c * 10) / 10;
      } catch {
        // A zone without a readable sensor (some report EINVAL when off) is left out.
      }
    }),
  );
  return zones;
}

/** Free space on the file system holding `path` (or its nearest existing parent). */
export async function diskFree(path: string): Promise<{ freeMb: number; freePercent: number } | null> {
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = await statfs(p);
      const free = s.bavail * s.bsize;
      const total = s.blocks * s.bsize;
      return {
        freeMb: Math.round(free / 1048576),
        freePercent: total > 0 ? Math.round((free / total) * 1000) / 10 : 0,
      };
    } catch {
      if (dirname(p) === p) return null;
    }
  }
}
