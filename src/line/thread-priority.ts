// Lifts the calling thread (the output worker) above the rest of the machine, so that a loaded
// CPU does not delay a reject pulse: SCHED_FIFO through chrt, else the highest nice level. Both
// need root or CAP_SYS_NICE; without it the thread stays normal and the caller logs why.
import { spawnSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";

export type PriorityWish = "realtime" | "high" | "normal";
export type PriorityResult =
  | { policy: "fifo"; priority: number }
  | { policy: "nice"; nice: number }
  | { policy: "normal"; reason: string | null };

/** SCHED_FIFO priority: above the kernel's threaded IRQ handlers' 50 would starve them; below it. */
const FIFO_PRIORITY = 40;
const HIGH_NICE = -20;

/** The calling thread's kernel thread id (not the process id). */
function threadId(): number {
  return Number(readlinkSync("/proc/thread-self").split("/").pop());
}

export function raiseThisThread(wish: PriorityWish): PriorityResult {
  if (wish === "normal") return { policy: "normal", reason: null };
  let tid: number;
  try {
    tid = threadId();
  } catch {
    return { policy: "normal", reason: "cannot find this thread's id (/proc/thread-self)" };
  }
  if (wish === "realtime") {
    const r = spawnSync("chrt", ["--fifo", "--pid", String(FIFO_PRIORITY), String(tid)], {
      encoding: "utf8",
      timeout: 2000,
    });
    if (r.status === 0) return { policy: "fifo", priority: FIFO_PRIORITY };
  }
  try {
    setPriority(tid, HIGH_NICE);
    return { policy: "nice", nice: HIGH_NICE };
  } catch {
    return {
      policy: "normal",
      reason: "no permission to raise the output thread's priority: give the service CAP_SYS_NICE",
    };
  }
}
