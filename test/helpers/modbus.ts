// A PLC's side of the Modbus map in tests: Debian's mbpoll (an independent implementation) and
// modbus-serial's Node client.
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import type { ModbusRTU as Client } from "modbus-serial/ModbusRTU.js";

const run = promisify(execFile);
export const ModbusRTU = createRequire(import.meta.url)("modbus-serial") as typeof Client;

/** mbpoll's values, one per line "[ref]: value". */
export async function mbpoll(port: number, args: string[]): Promise<number[]> {
  const { stdout } = await run(
    "mbpoll",
    ["-m", "tcp", "-p", String(port), "-a", "1", "-0", "-1", ...args, "127.0.0.1"],
    {
      timeout: 10_000,
    },
  );
  return [...stdout.matchAll(/^\[\d+\]:\s+(-?\d+)/gm)].map((m) => Number(m[1]));
}

/** mbpoll writes one coil (`-t 0`), as a PLC would. */
export async function writeCoil(port: number, coil: number, value: 0 | 1): Promise<void> {
  await run(
    "mbpoll",
    ["-m", "tcp", "-p", String(port), "-a", "1", "-0", "-1", "-t", "0", "-r", String(coil), "127.0.0.1", String(value)],
    {
      timeout: 10_000,
    },
  );
}

/** A connected Node client for unit 1; `onClose` gets its closer. */
export async function nodeClient(port: number, onClose?: (close: () => Promise<void>) => void): Promise<Client> {
  const c = new ModbusRTU();
  await c.connectTCP("127.0.0.1", { port });
  c.setID(1);
  c.setTimeout(2000);
  onClose?.(() => new Promise<void>((resolve) => c.close(() => resolve())));
  return c;
}
