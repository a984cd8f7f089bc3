// One change at a time to a model store, across processes (the daemon and the CLI): a lock file
// created exclusively, holding the owner's pid and boot id. A lock left by a killed process (its
// pid gone, or from an earlier boot) is taken over.
import { readFileSync } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import { UserFacingError } from "../errors.js";

export class StoreBusyError extends UserFacingError {}

function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "unknown";
  }
}

const BOOT = bootId();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface StoreLock {
  release(): Promise<void>;
}

export async function acquireLock(path: string, what: string): Promise<StoreLock> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(`${process.pid} ${BOOT}\n`);
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const [pidText, boot] = (await readFile(path, "utf8").catch(() => "")).trim().split(" ");
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 0 && boot === BOOT && alive(pid))
      throw new StoreBusyError(
        `${what}: another change to the model store is under way (pid ${pid}); try again when it is done`,
      );
    // Stale: its owner was killed or the machine rebooted. Two processes taking over the same
    // stale lock at the same instant could both win; a device has one daemon and rarely a CLI.
    await rm(path, { force: true });
  }
  throw new StoreBusyError(`${what}: the model store's lock ${path} keeps coming back; another process is changing it`);
}
