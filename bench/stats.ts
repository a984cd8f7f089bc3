// Small helpers shared by the benchmarks.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

export const ms = (x: number) => `${x.toFixed(3)} ms`;

/** A config for `linesight run` replaying `footage` at `fps` with `model`, written into `dir`. */
export function writeReplayConfig(
  dir: string,
  o: { footage: string; fps: number; model: string; port: string },
): string {
  const path = join(dir, "config.yaml");
  writeFileSync(
    path,
    [
      "device: {id: bench}",
      `camera: {replay: {path: ${o.footage}, fps: ${o.fps}}}`,
      `model: {path: ${o.model}}`,
      `storage: {path: ${join(dir, "db.sqlite")}}`,
      `mqtt: {embedded: {port: ${o.port}}, health_interval_s: 5}`,
      "log: {level: info}",
    ].join("\n"),
  );
  return path;
}
