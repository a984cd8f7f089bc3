// The GPIO backend's pure parts (which lines the config asks for, how they resolve on a chip, the
// messages a user sees) and the addon on a machine without GPIO chips. The backend against a real
// kernel chip: test/integration/gpio-sim.test.ts.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { findChip, type GpioLineInfo, gpioChardev, gpioSetupError, listChips } from "../../src/line/gpio-chardev.js";
import { busyMessage, gpioSetup, resolveLines, wantedLines } from "../../src/line/gpio-lines.js";
import { formatLineListing } from "../../src/line/gpio-listing.js";
import { lineIoOptions } from "../../src/line/line.js";

const lineConfig = (l: object) =>
  parseConfig({ device: { id: "a" }, line: { enabled: true, gpio_chip: "pinctrl-rp1", ...l } }, "t.yaml", "/etc").config
    .line;

const pi5 = lineConfig({
  trigger: { source: "gpio", line: "GPIO17", bias: "pull_up", edge: "falling" },
  reject: { line: "GPIO27", active_low: true },
  ready: { line: "GPIO22" },
  heartbeat: { line: 23 },
});

const info = (offset: number, name: string, over: Partial<GpioLineInfo> = {}): GpioLineInfo => ({
  offset,
  name,
  consumer: "",
  used: false,
  output: false,
  activeLow: false,
  bias: "as_is",
  edge: "none",
  debounceUs: 0,
  ...over,
});
const chipLines = Array.from({ length: 28 }, (_, i) => info(i, `GPIO${i}`));

describe("GPIO lines from the line: section", () => {
  it("asks for the photo-eye with its edge and bias, and each wired output with its polarity", () => {
    expect(wantedLines(pi5)).toEqual([
      {
        fn: "trigger",
        key: "line.trigger.line",
        spec: "GPIO17",
        output: false,
        activeLow: false,
        edge: "falling",
        bias: "pull_up",
      },
      { fn: "reject", key: "line.reject.line", spec: "GPIO27", output: true, activeLow: true },
      { fn: "ready", key: "line.ready.line", spec: "GPIO22", output: true, activeLow: false },
      { fn: "heartbeat", key: "line.heartbeat.line", spec: 23, output: true, activeLow: false },
    ]);
    // Unwired outputs and a trigger from the PLC claim no line.
    expect(wantedLines(lineConfig({ trigger: { source: "none" }, reject: { line: 5 } })).map((w) => w.fn)).toEqual([
      "reject",
    ]);
  });

  it("selects the gpio backend for line.backend: gpio", () => {
    const o = lineIoOptions(pi5, null);
    expect(o.backend).toEqual({ kind: "gpio", gpio: gpioSetup(pi5) });
    expect(gpioSetup(pi5)).toMatchObject({ chip: "pinctrl-rp1", consumer: "linesight" });
  });

  it("resolves lines by name (case-insensitive as a fallback) or offset", () => {
    const r = resolveLines(wantedLines(pi5), chipLines, "/dev/gpiochip0");
    expect(r.map((l) => [l.fn, l.offset])).toEqual([
      ["trigger", 17],
      ["reject", 27],
      ["ready", 22],
      ["heartbeat", 23],
    ]);
    const lower = lineConfig({ reject: { line: "gpio27" } });
    expect(resolveLines(wantedLines(lower), chipLines, "c")[0]?.offset).toBe(27);
  });

  it("names the key and what the chip has when a line is not there", () => {
    expect(() => resolveLines(wantedLines(lineConfig({ reject: { line: "GPIO99" } })), chipLines, "chip")).toThrow(
      /^line\.reject\.line: no line "GPIO99" on chip's lines are named GPIO0, GPIO1, .*\(`gpioinfo` lists them\)/,
    );
    expect(() => resolveLines(wantedLines(lineConfig({ reject: { line: 40 } })), chipLines, "chip")).toThrow(
      /^line\.reject\.line: no line 40 on chip has 28 lines \(offsets 0-27\)/,
    );
  });

  it("names who holds a busy line", () => {
    const r = resolveLines(wantedLines(pi5), chipLines, "c");
    const now = chipLines.map((l) => (l.offset === 27 ? { ...l, used: true, consumer: "pigpiod" } : l));
    expect(busyMessage(r, now, '/dev/gpiochip0 "pinctrl-rp1"')).toBe(
      '/dev/gpiochip0 "pinctrl-rp1": line.reject.line GPIO27 (offset 27) is in use by "pigpiod": stop that program (or the kernel driver, see `gpioinfo`) or choose another line',
    );
  });

  it("lists the configured lines for linesight check, failing on a busy or missing one", () => {
    const chip = { path: "/dev/gpiochip0", name: "gpiochip0", label: "pinctrl-rp1", lines: 54 };
    const lines = wantedLines(pi5).map((w, i) => ({
      wanted: w,
      info: i === 1 ? info(27, "GPIO27", { used: true, consumer: "other" }) : i === 2 ? null : info(17, "GPIO17"),
    }));
    const { text, ok } = formatLineListing({ chip, lines });
    expect(ok).toBe(false);
    expect(text.split("\n    ")).toEqual([
      'chip "pinctrl-rp1" -> /dev/gpiochip0 (54 lines)',
      "trigger: GPIO17 (offset 17), input, falling edge: free, can be requested",
      'reject: GPIO27 (offset 27), output (active low): in use by "other": cannot be requested',
      'ready: line.ready.line "GPIO22": no such line on this chip (`gpioinfo` lists them)',
      "heartbeat: GPIO17 (offset 17), output: free, can be requested",
    ]);
  });

  it("turns permission errors into the fix: group, udev rule, DeviceAllow", () => {
    const e = Object.assign(new Error("/dev/gpiochip0: Permission denied"), { code: "EACCES" });
    const m = gpioSetupError(e, { key: "line.gpio_chip", path: "/dev/gpiochip0" }).message;
    expect(m).toMatch(/^line\.gpio_chip: \/dev\/gpiochip0: permission denied: add the service user to the gpio group/);
    expect(m).toContain('SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio"');
    expect(m).toContain("DeviceAllow=char-gpiochip rw");
  });
});

describe("the GPIO addon on a machine without GPIO chips", () => {
  it("loads and reports errno codes with the chip's path", () => {
    expect(Object.keys(gpioChardev())).toEqual([
      "chipInfo",
      "lineInfos",
      "request",
      "setValues",
      "getValues",
      "readEvents",
      "poll",
      "release",
    ]);
    expect(() => gpioChardev().chipInfo("/dev/gpiochip-none")).toThrow(
      expect.objectContaining({ code: "ENOENT", message: "/dev/gpiochip-none: No such file or directory" }),
    );
    // /dev/null is no GPIO chip: the ioctl is refused.
    expect(() => gpioChardev().chipInfo("/dev/null")).toThrow(expect.objectContaining({ code: "ENOTTY" }));
  });

  it("finds no chip and says so, naming the label", () => {
    const dev = mkdtempSync(join(tmpdir(), "dev-")); // a /dev without GPIO chips, as on this machine
    expect(listChips(dev)).toEqual({ chips: [], unreadable: [] });
    expect(() => findChip("pinctrl-rp1", dev)).toThrow(
      /^line\.gpio_chip: no GPIO chip on this machine \(no \/.*\/gpiochip\*\), so none labelled "pinctrl-rp1"/,
    );
    expect(() => findChip("/dev/gpiochip9")).toThrow(/^line\.gpio_chip: \/dev\/gpiochip9: no such GPIO chip/);
  });
});
