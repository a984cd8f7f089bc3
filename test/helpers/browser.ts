// Real headless Chromium (Debian's package) driven by playwright-core: no browser download, and
// nothing reaches the network (the flags switch off Chromium's own background traffic).
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { ROOT } from "./daemon.js";

export const CHROMIUM = process.env.LINESIGHT_CHROMIUM ?? "/usr/bin/chromium";
/** Screenshots and measurements from browser tests (git-ignored, kept by CI as artifacts). */
export const ARTIFACTS = join(ROOT, "build/test-artifacts");

/** `extraArgs`: more Chromium flags, e.g. --host-resolver-rules to point a name at this machine. */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set LINESIGHT_CHROMIUM)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...extraArgs,
    ],
  });
}
