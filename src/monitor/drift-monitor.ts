// Per decided frame: drift detection, reporting status changes once each. Pure: the daemon turns
// its answers into MQTT messages and log lines. (Out-of-distribution frames are flagged per frame
// by the pipeline, against the bounds of the model that decided them: see ood.ts.)
import type { DriftDetector, DriftReport } from "./drift-detector.js";
import type { FrameFeatures } from "./frame-features.js";
import type { Level } from "./hysteresis.js";

/** A drift status change, told in plain words (published as an MQTT `drift` event). */
export interface DriftEvent {
  type: "drift";
  severity: "info" | "warning" | "alarm";
  message: string;
  data: { from: Level; to: Level; reasons: string[]; frames: number; window: number };
}

export interface DriftObservation {
  /** A fresh evaluation, every `evaluateEvery` frames. */
  report: DriftReport | null;
  /** The event to send when the status changed. */
  event: DriftEvent | null;
}

const SEVERITY = { ok: "info", warn: "warning", alarm: "alarm" } as const;

export class DriftMonitor {
  private status: Level = "ok";

  constructor(private readonly detector: DriftDetector) {}

  observe(features: FrameFeatures, score: number, rejected: boolean, uncertain: boolean): DriftObservation {
    const report = this.detector.observe(features, score, rejected, uncertain);
    let event: DriftObservation["event"] = null;
    if (report && report.status !== this.status) {
      const from = this.status;
      this.status = report.status;
      event = {
        type: "drift",
        severity: SEVERITY[report.status],
        message:
          report.status === "ok"
            ? "Drift cleared: the line looks like the model's reference again"
            : `Drift ${report.status}: ${report.reasons[0] ?? "the line no longer looks like the model's reference"}`,
        data: { from, to: report.status, reasons: report.reasons, frames: report.frames, window: report.window.size },
      };
    }
    return { report, event };
  }

  report(): DriftReport {
    return this.detector.report();
  }
}
