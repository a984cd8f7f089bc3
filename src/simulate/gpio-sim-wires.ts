// The simulated conveyor's wires on a gpio-sim chip (`line.simulation.gpio_sim`, the gpio-sim VM
// test): the daemon holds the chip's lines through the real GPIO backend as it would a board's,
// and the simulator acts from outside, through the kernel. The photo-eye is the trigger line's
// `sim_gpioN/pull` attribute (the kernel raises and stamps the edge as for a pin); the ejector
// samples the reject line's `sim_gpioN/value` (gpio-sim-sampler.ts). Main thread side.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { LineConfig } from "../config/schema.js";
import { LineSetupError } from "../line/backend.js";
import { findChip, gpioChardev } from "../line/gpio-chardev.js";
import { gpioSetup, resolveLines } from "../line/gpio-lines.js";
import { monoNowMs } from "../line/mono-clock.js";
import { SpscRing } from "../line/spsc-ring.js";
import { workerScriptUrl } from "../worker-url.js";
import type { ConveyorWires, EdgeWindow, OutputReading } from "./conveyor-wires.js";
import { CONTROL_SLOTS, SAMPLES, type SamplerSetup, STOP } from "./sampler-protocol.js";

/** The ejector's sampling period: well under a pulse (the VM's clock may round it up to its tick). */
const SAMPLE_PERIOD_MS = 1;
/** The sampler's first reading, on an emulated CPU. */
const START_TIMEOUT_MS = 20_000;

export class GpioSimWires implements ConveyorWires {
  readonly live = true;
  onWrite: ((w: OutputReading) => void) | null = null;
  private readonly control: Int32Array;
  private readonly startedMs = monoNowMs();

  private constructor(
    readonly name: string,
    private readonly pullPath: string,
    private readonly exited: Promise<unknown>,
    control: SharedArrayBuffer,
    private readonly readings: SpscRing,
    private readonly logger: Logger,
  ) {
    this.control = new Int32Array(control);
  }

  /** The chip and lines of `line:` as gpio-sim attributes; the sampler started and its first reading made. */
  static async open(c: LineConfig, logger: Logger): Promise<GpioSimWires> {
    const setup = gpioSetup(c);
    const chip = findChip(setup.chip);
    const where = `${chip.path} "${chip.label}"`;
    const lines = resolveLines(
      setup.lines.filter((l) => l.fn === "trigger" || l.fn === "reject"),
      gpioChardev().lineInfos(chip.path),
      where,
    );
    const trigger = lines.find((l) => l.fn === "trigger");
    const reject = lines.find((l) => l.fn === "reject");
    if (!trigger || !reject)
      throw new LineSetupError("line.simulation.gpio_sim: the conveyor needs line.trigger.line and line.reject.line");
    // gpio-sim puts its attributes on the chip's device: /sys/bus/gpio/devices/gpiochipN/sim_gpioK/.
    const attr = (offset: number, name: string) => join("/sys/bus/gpio/devices", chip.name, `sim_gpio${offset}`, name);
    const pullPath = attr(trigger.offset, "pull");
    const valuePath = attr(reject.offset, "value");
    if (!existsSync(pullPath) || !existsSync(valuePath))
      throw new LineSetupError(
        `line.simulation.gpio_sim: ${where} is not a gpio-sim chip (no ${pullPath}): the simulated conveyor acts only on the kernel's GPIO simulator`,
      );
    // At rest the photo-eye sees no part (an edge the other way is not asked for: no part).
    writeFileSync(pullPath, c.trigger.edge === "rising" ? "pull-down" : "pull-up");

    const control = new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    const readings = SpscRing.allocate(1 << 16);
    const data: SamplerSetup = { line: "reject", path: valuePath, periodMs: SAMPLE_PERIOD_MS, control, readings };
    const worker = new Worker(workerScriptUrl("simulate/gpio-sim-sampler.js", import.meta.url), { workerData: data });
    const exited = new Promise((r) => worker.once("exit", r));
    const failed = new Promise<never>((_, reject) => worker.once("error", reject));
    const counts = new Int32Array(control);
    const end = monoNowMs() + START_TIMEOUT_MS;
    while (Atomics.load(counts, SAMPLES) === 0) {
      if (monoNowMs() > end) {
        await worker.terminate();
        throw new Error(`gpio-sim ejector: no reading of ${valuePath} within ${START_TIMEOUT_MS} ms`);
      }
      await Promise.race([new Promise((r) => setTimeout(r, 10)), failed]);
    }
    worker.on("error", (err) => logger.error({ err }, "gpio-sim ejector: the sampler failed"));
    const name = `gpio-sim ${where}: photo-eye ${trigger.info.name || trigger.offset} by sim_gpio${trigger.offset}/pull, ejector sampling sim_gpio${reject.offset}/value`;
    return new GpioSimWires(name, pullPath, exited, control, new SpscRing(readings), logger);
  }

  edge(_timeMs: number, rising: boolean): EdgeWindow {
    // The kernel stamps the edge while this write runs, whatever time the simulator meant.
    const fromMs = monoNowMs();
    writeFileSync(this.pullPath, rising ? "pull-up" : "pull-down");
    return { fromMs, toMs: monoNowMs() };
  }

  poll(): void {
    for (let r = this.readings.pop(); r !== undefined; r = this.readings.pop()) this.onWrite?.(r as OutputReading);
  }

  async close(): Promise<void> {
    this.poll();
    Atomics.store(this.control, STOP, 1);
    const samples = Atomics.load(this.control, SAMPLES);
    await this.exited;
    this.logger.info(
      { samples, sample_period_ms: Math.round(((monoNowMs() - this.startedMs) / Math.max(1, samples)) * 100) / 100 },
      "gpio-sim ejector: stopped",
    );
  }
}
