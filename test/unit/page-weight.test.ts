// The pages must load quickly on a Pi Zero 2 W over Wi-Fi: all JS and CSS under 150 kB gzipped.
// A size, not a time, so it is a test; the figure is also in docs/performance.md.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadStaticFiles } from "../../src/http/static-files.js";
import { ROOT } from "../helpers/daemon.js";

describe("page weight", () => {
  it("JS + CSS under 150 kB compressed, and every page's assets exist", () => {
    const files = loadStaticFiles(join(ROOT, "web"));
    let gz = 0;
    let raw = 0;
    for (const [name, f] of files) {
      if (!/\.(js|css)$/.test(name)) continue;
      gz += f.gzip.length;
      raw += f.body.length;
    }
    console.log(`page weight: JS+CSS ${raw} B raw, ${gz} B gzip`);
    expect(gz).toBeLessThan(150 * 1024);
    for (const page of ["index.html", "label.html"]) {
      const html = files.get(page)?.body.toString() ?? "";
      for (const [, asset] of html.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g))
        expect(files.has(asset as string)).toBe(true);
      // Offline factories: nothing from another host.
      expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    }
  });
});
