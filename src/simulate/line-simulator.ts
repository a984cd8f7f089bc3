// The simulated conveyor (`--simulate-line`): parts pass the photo-eye at a steady rate, each one
// raising the trigger edge on the wires and, capture_delay_ms + exposure_ms later, the triggered
// camera's picture of that part (a footage frame with its true label). The ejector watches the
// reject output: every level it saw goes into the account, which checks each part's fate against
// what the ejector did at the part's eject time. The wires are simulated, or a gpio-sim chip's
// behind the real GPIO backend (conveyor-wires.ts); between them and the camera runs the daemon's
// real code.
import type { Logger } from "pino";
import type { TriggeredReplaySource } from "../camera/triggered-replay-source.js";
import type { LineConfig } from "../config/schema.js";
import { monoNowMs, monoToPerfMs } from "../line/mono-clock.js";
import type { PartFate } from "../line/part-tracker.js";
import type { ConveyorWires } from "./conveyor-wires.js";
import { LineAccount, type LineAccountSummary } from "./line-account.js";

/** How long after a part's pulse would end it is checked: the ejector's record is read every 100 ms. */
const GRACE_MS = 400;
/** The photo-eye sees the part this long (the opposite edge follows). */
const EDGE_WIDTH_MS = 3;

export class LineSimulator {
  readonly account: LineAccount;
  private timer: NodeJS.Timeout | null = null;
  private readonly captures = new Set<NodeJS.Timeout>();
  private nextAtMs = 0;
  private fed = 0;
  private finishedLogged = false;

  constructor(
    private readonly c: LineConfig,
    private readonly wires: ConveyorWires,
    private readonly camera: TriggeredReplaySource,
    /** The model's label for a good part: any other label is a defect. */
    private readonly goodLabel: string,
    private readonly logger: Logger,
    /** Reads what the line reported so far (its fates), before parts are checked. */
    private readonly sync: () => void,
  ) {
    this.account = new LineAccount({
      ejectDelayMs: c.reject.delay_ms,
      pulseMs: c.reject.pulse_ms,
      toleranceMs: 5, // the pulse timing target's max (docs/line-io.md)
      // Later than half the spacing of parts it could be the next part's.
      lateMs: Math.max(5, 500 / c.simulation.parts_per_s),
      graceMs: GRACE_MS,
    });
    const activeLow = c.reject.active_low;
    wires.onWrite = (w) => {
      if (w.line === "reject") this.account.level(w.level !== activeLow, w.timeMs);
    };
  }

  /** The line's fates go here (LineIo "fate"). */
  fate(f: PartFate): void {
    this.account.fate(f);
  }

  /** Starts feeding parts (the camera must be started). */
  start(): void {
    // A second for the first inference (session warm-up) before the first part.
    this.nextAtMs = monoNowMs() + 1000;
    const sim = this.c.simulation;
    this.logger.info(
      {
        parts_per_s: sim.parts_per_s,
        parts: sim.parts,
        eject_delay_ms: this.c.reject.delay_ms,
        wires: this.wires.name,
      },
      "simulated line: parts on the belt",
    );
    this.tick();
  }

  summary(): LineAccountSummary {
    this.settle();
    return this.account.summary();
  }

  /**
   * No more parts on the belt; resolves once the parts already on it are through (each checked),
   * or after the time they need, so the account at the end has every part.
   */
  async finish(): Promise<LineAccountSummary> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const until = monoNowMs() + this.c.reject.delay_ms + this.c.reject.pulse_ms + GRACE_MS + 500;
    for (;;) {
      const s = this.summary();
      if (s.closed === s.parts || monoNowMs() > until) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    this.stop();
    return this.summary();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const t of this.captures) clearTimeout(t);
    this.captures.clear();
    this.wires.onWrite = null;
  }

  private tick = (): void => {
    const sim = this.c.simulation;
    const period = 1000 / sim.parts_per_s;
    const now = monoNowMs();
    // Parts due by now, each stamped with its own time (like a kernel edge timestamp read late).
    // On a live line an edge happens when written: a late tick delays the belt, never bunches it
    // (parts closer than debounce_ms would merge).
    while (this.nextAtMs <= now && (sim.parts === null || this.fed < sim.parts)) {
      this.feed(this.nextAtMs);
      this.nextAtMs = (this.wires.live ? Math.max(this.nextAtMs, now) : this.nextAtMs) + period;
    }
    this.settle();
    if (sim.parts !== null && this.fed >= sim.parts && !this.finishedLogged) {
      const s = this.account.summary();
      if (s.closed === s.parts) {
        this.finishedLogged = true;
        this.logger.info({ account: s }, "simulated line: all parts through");
      }
    }
    this.timer = setTimeout(this.tick, Math.min(50, Math.max(0, this.nextAtMs - monoNowMs())));
  };

  /** Checks the parts whose time is over, after reading the ejector's record and the line's fates:
   * after a busy moment of this thread both may still wait in their rings. */
  private settle(): void {
    const now = monoNowMs();
    this.wires.poll();
    this.sync();
    this.account.settle(now);
  }

  private feed(edgeMs: number): void {
    const index = this.fed++;
    const footage = this.camera.footage;
    const frame = footage[index % footage.length];
    const label = frame?.label ?? null;
    const rising = this.c.trigger.edge === "rising";
    const at = this.wires.edge(edgeMs, rising);
    this.wires.edge(at.toMs + EDGE_WIDTH_MS, !rising);
    this.account.add({
      index,
      edgeMs: at.fromMs,
      edgeToMs: at.toMs,
      file: frame?.file ?? "",
      defect: label === null ? null : label !== this.goodLabel,
    });
    const stallAfter = this.c.simulation.camera_stall_after;
    if (stallAfter !== null && index >= stallAfter) return;
    this.captureAt(index, at.toMs + this.c.trigger.capture_delay_ms + this.c.simulation.exposure_ms);
  }

  /** The camera's picture of part `index`, never before `atMs` (timers may fire a little early). */
  private captureAt(index: number, atMs: number): void {
    const t = setTimeout(
      () => {
        this.captures.delete(t);
        if (monoNowMs() < atMs) this.captureAt(index, atMs);
        // Stamped when the trigger fired the exposure, even when this thread ran the timer late.
        else this.camera.capture(index, monoToPerfMs(atMs));
      },
      Math.max(0, Math.ceil(atMs - monoNowMs())),
    );
    this.captures.add(t);
  }
}
