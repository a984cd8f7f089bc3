// Acting on the line (docs/line-io.md): starts the output thread and the PLC's Modbus server from
// `line:`, feeds them every frame the camera delivers, every decision and every failed frame, holds
// ready while inspecting, follows the PLC's online coil (off = paused), and reports the line in the
// health report, the events and the operator's live view. Started before the camera and stopped
// after it; ready drops as soon as the pipeline says it is stopping.
import type { Logger } from "pino";
import type { FrameSlot } from "../camera/frame-slot.js";
import type { LineConfig } from "../config/schema.js";
import type { LineStatusInputs } from "../http/status-text.js";
import { Line } from "../line/line.js";
import { monoNowMs } from "../line/mono-clock.js";
import type { PartFate } from "../line/part-tracker.js";
import type { SimulatedWires } from "../line/simulated-wires.js";
import type { HealthPayload } from "../mqtt/payloads.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import type { LineAccountSummary } from "../simulate/line-account.js";
import { FailSafeDigest } from "./line-notices.js";
import type { DaemonBus, Part } from "./part.js";

export type LineHealth = NonNullable<HealthPayload["line"]>;

/** At most one fail-safe event per this interval (the first at once). */
const FAIL_SAFE_NOTICE_MS = 10_000;

export interface LineControl extends Part {
  /** The running line (null before start or when it failed). */
  readonly line: Line | null;
  /** part_id and trigger_at for a decided frame's payload (trigger mode). */
  partOf(seq: number): Promise<{ part_id: number; trigger_at: string } | undefined>;
  health(): LineHealth | null;
  status(): LineStatusInputs | null;
  /** Hears each fate after the PLC did (the simulator's account). */
  onFate: ((fate: PartFate) => void) | null;
  simulation: (() => LineAccountSummary) | null;
}

export function lineControl(o: {
  bus: DaemonBus;
  config: LineConfig;
  wires: SimulatedWires | null;
  slot: FrameSlot;
  pipeline: Pipeline;
  logger: Logger;
}): LineControl {
  const { bus, config: c, pipeline, logger } = o;
  const name = "line";
  let line: Line | null = null;
  let online = true;
  let pausedByPlc = false;
  let failed = false;
  let lastFailSafeAt = 0;
  const digest = new FailSafeDigest(FAIL_SAFE_NOTICE_MS);
  let digestTimer: NodeJS.Timeout | null = null;

  const inspecting = () => pipeline.state === "running" || pipeline.state === "starting";
  const follow = () => {
    if (!line) return;
    line.io.setPaused(pipeline.paused || !online);
    line.io.setReady(online && inspecting());
  };
  const setOnline = (value: boolean) => {
    online = value;
    // The PLC's "offline" pauses inspection like the pause command; "online" resumes only what it paused.
    if (!value && !pipeline.paused) pausedByPlc = pipeline.setPaused(true);
    else if (value && pausedByPlc) {
      pausedByPlc = false;
      pipeline.setPaused(false);
    }
    follow();
    bus.emit("notice", {
      type: "line_output",
      severity: value ? "info" : "warning",
      message: value
        ? "The PLC set the device online: inspecting"
        : "The PLC took the device offline: inspection paused",
      data: { problem: value ? "online" : "offline", line: null },
    });
  };

  const self: LineControl = {
    name,
    onFate: null,
    simulation: null,
    get line() {
      return line;
    },
    async partOf(seq) {
      const p = await line?.io.partOfSoon(seq);
      if (!p) return undefined;
      return { part_id: p.partId, trigger_at: new Date(Date.now() - (monoNowMs() - p.edgeMs)).toISOString() };
    },
    health() {
      if (!line) return null;
      const s = line.io.stats();
      const k = s.counters;
      const timing = (t: { p50: number; p99: number; max: number; count: number }) => ({
        p50: t.p50,
        p99: t.p99,
        max: t.max,
        count: t.count,
      });
      const m = line.modbus?.stats();
      const h: LineHealth = {
        backend: c.backend,
        trigger: c.trigger.source,
        ready: s.outputs.ready,
        online,
        outputs_alive: s.outputs.alive && !failed,
        output_priority: line.io.priority.policy,
        triggers: k.triggers,
        debounced: k.debounced,
        parts: k.parts,
        missed: k.missed,
        in_flight: s.inFlight,
        in_flight_max: s.inFlightMax,
        ejected: k.ejected,
        passed: k.passed,
        rejects_fired: s.rejectsFired,
        fail_safe: k.failSafe,
        fail_safe_rejects: c.fail_safe === "reject" ? k.failSafe : 0,
        fail_safe_by_cause: { ...k.failSafeByCause },
        late_decisions: k.lateDecisions,
        write_errors: s.writeErrors,
        pulse_error_ms: timing(s.pulseError),
        edge_to_decision_ms: timing(s.edgeToDecision),
        modbus: m ? { clients: m.clients, refused: m.refused, dropped_idle: m.droppedIdle } : null,
      };
      if (self.simulation) h.simulation = self.simulation();
      return h;
    },
    status() {
      if (!line) return failed ? { failed: true } : null;
      const s = line.io.stats();
      return {
        failed,
        ready: s.outputs.ready,
        online,
        paused: pipeline.paused,
        parts: s.counters.parts,
        ejected: s.counters.ejected,
        failSafe: s.counters.failSafe,
        failSafeAction: c.fail_safe,
        recentFailSafe: lastFailSafeAt > 0 && Date.now() - lastFailSafeAt < 60_000,
        missed: s.counters.missed,
      };
    },
    async start() {
      line = await Line.start(c, { wires: o.wires, logger });
      const io = line.io;
      logger.info(
        {
          backend: c.backend,
          trigger: c.trigger.source,
          priority: io.priority.policy,
          modbus: line.modbus ? `${c.modbus.host}:${line.modbus.port}` : null,
        },
        "line I/O up",
      );
      // Every frame, before the newest-wins slot can drop it: a part's frame is the first after its edge.
      o.slot.tap = (f) => io.frame(f.seq, f.capturedMono);
      bus.on(name, "decided", (r) =>
        io.decision(
          r.frame.seq,
          { action: r.decision.action, score: r.score, model: `${r.model.name}@${r.model.version}` },
          r.frame.capturedMono,
        ),
      );
      bus.on(name, "frame-failed", ({ frame }) => io.failure(frame.seq, frame.capturedMono));
      bus.on(name, "pipeline-state", follow);
      line.modbus?.on("online", setOnline);
      io.on("fate", (fate) => {
        self.onFate?.(fate);
        if (fate.cause === "decision") return;
        lastFailSafeAt = Date.now();
        const n = digest.add(fate, Date.now());
        if (n) bus.emit("notice", n);
      });
      io.on("write_error", ({ line: output, message }) =>
        bus.emit("notice", {
          type: "line_output",
          severity: "alarm",
          message: `Writing the ${output} output failed: ${message}`,
          data: { problem: "write_error", line: output },
        }),
      );
      io.on("failed", (err) => {
        failed = true;
        bus.emit("notice", {
          type: "line_output",
          severity: "alarm",
          message: `The line's output thread stopped (${err.message}): reject, ready and heartbeat are no longer driven; restart the service`,
          data: { problem: "worker_failed", line: null },
        });
      });
      digestTimer = setInterval(() => {
        const n = digest.flush(Date.now());
        if (n) bus.emit("notice", n);
      }, 1000);
      digestTimer.unref();
      follow();
    },
    async stop() {
      if (digestTimer) clearInterval(digestTimer);
      o.slot.tap = null;
      bus.off(name);
      // Ready off first (also done on "stopping"), then the outputs to inactive and the lines released.
      line?.io.setReady(false);
      await line?.stop();
    },
  };
  return self;
}
