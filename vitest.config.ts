import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["./test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start real daemons and brokers: keep files from competing for 2 cores.
    fileParallelism: false,
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
