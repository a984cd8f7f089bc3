// Preloaded into the daemon by bench/line-daemon.ts (node --import): blocks the main thread for
// LINESIGHT_BENCH_BLOCK_MS once a second, as a long GC pause or a slow callback would. Workers
// inherit --import; they are left alone.
import { isMainThread } from "node:worker_threads";

const ms = Number(process.env.LINESIGHT_BENCH_BLOCK_MS ?? 0);
if (isMainThread && ms > 0) {
  setInterval(() => {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      // busy
    }
  }, 1000).unref();
}
