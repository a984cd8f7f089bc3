// The GPIO character-device backend: the lines of `line:` on the chip found by its label, in one
// request (uAPI v2) held by the output worker. Edges come with the kernel's CLOCK_MONOTONIC
// timestamps (the line clock); writes are one ioctl each, at the moment they are made.
import type { InputLine, LineBackend, LineEdge, OutputLine } from "./backend.js";
import { LineSetupError } from "./backend.js";
import { findChip, type GpioChardev, gpioChardev, gpioSetupError } from "./gpio-chardev.js";
import { busyMessage, type GpioSetup, type ResolvedLine, resolveLines } from "./gpio-lines.js";
import { nsToMonoMs } from "./mono-clock.js";

/** The longest single poll in wait(): how often `wake` is looked at while an input is watched. */
const POLL_SLICE_MS = 1;

export class GpioBackend implements LineBackend {
  private g: GpioChardev | null = null;
  private fd = -1;
  private bit = new Map<OutputLine, number>();
  private inputs = new Map<number, InputLine>();
  /** Where the lines are, once open: "/dev/gpiochip0 (pinctrl-rp1)". */
  where = "";
  lines: ResolvedLine[] = [];

  constructor(private readonly setup: GpioSetup) {}

  open(): void {
    const g = gpioChardev();
    const chip = findChip(this.setup.chip);
    this.where = `${chip.path} "${chip.label}"`;
    let infos = g.lineInfos(chip.path);
    const lines = resolveLines(this.setup.lines, infos, this.where);
    if (lines.length === 0) throw new LineSetupError("line: no GPIO line is configured (line.reject.line, ...)");
    try {
      this.fd = g.request(
        chip.path,
        this.setup.consumer,
        lines.map((l) =>
          l.output
            ? { offset: l.offset, output: true, value: l.activeLow }
            : { offset: l.offset, output: false, edge: l.edge ?? "rising", bias: l.bias ?? "as_is" },
        ),
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EBUSY") {
        infos = g.lineInfos(chip.path);
        throw new LineSetupError(busyMessage(lines, infos, this.where));
      }
      throw gpioSetupError(err, { key: "line.gpio_chip", path: chip.path });
    }
    this.g = g;
    this.lines = lines;
    lines.forEach((l, i) => {
      if (l.output) this.bit.set(l.fn as OutputLine, i);
      else this.inputs.set(l.offset, l.fn as InputLine);
    });
  }

  write(line: OutputLine, level: boolean): void {
    const i = this.bit.get(line);
    if (i === undefined || !this.g) return; // not wired
    const mask = 2 ** i;
    this.g.setValues(this.fd, mask, level ? mask : 0);
  }

  readEdges(): LineEdge[] {
    if (!this.g || this.inputs.size === 0) return [];
    const edges: LineEdge[] = [];
    for (const e of this.g.readEvents(this.fd)) {
      const line = this.inputs.get(e.offset);
      if (line) edges.push({ line, rising: e.rising, timeMs: nsToMonoMs(e.timestampNs) });
    }
    return edges;
  }

  wait(timeoutMs: number, wake: Int32Array): void {
    if (!this.g || this.inputs.size === 0) {
      Atomics.wait(wake, 0, 0, timeoutMs);
      return;
    }
    // poll() cannot be woken by the main thread: bounded slices, looking at `wake` between.
    const end = performance.now() + timeoutMs;
    for (;;) {
      const left = end - performance.now();
      if (left <= 0 || Atomics.load(wake, 0) !== 0) return;
      if (this.g.poll(this.fd, Math.min(left, POLL_SLICE_MS))) return;
    }
  }

  close(): void {
    if (this.g && this.fd >= 0) this.g.release(this.fd);
    this.fd = -1;
    this.g = null;
  }
}
