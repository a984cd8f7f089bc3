// The operator screen's status lights in plain words. Pure.

export type Light = "ok" | "warn" | "alarm" | "off";

export interface StatusLine {
  light: Light;
  title: string;
  text: string;
}

export interface StatusInputs {
  camera: { state: string; source: string };
  pipeline: string;
  model: { name: string; version: string; threshold: number };
  drift: { status: "ok" | "warn" | "alarm"; reasons: string[]; ready: boolean } | null;
  broker: { connected: boolean; queued: number };
  /** Line I/O (line.enabled); absent or null when the line is off. */
  line?: LineStatusInputs | null;
  /** A candidate model deciding in the shadow (health `model.shadow`); null or absent when none. */
  shadow?: ShadowStatus | null;
  /** The last gate between a candidate and the active model (with a model store); null before one ran. */
  gate?: GateStatus | null;
}

/** The gate's verdict on the device's labeled samples, as the live view tells it. */
export interface GateStatus {
  at: string;
  candidate: string;
  active: string;
  verdict: "pass" | "refuse";
  reasons: string[];
  samples: number;
  missed: { candidate: number | null; active: number | null };
  falseRejects: { candidate: number | null; active: number | null };
}

export interface ShadowStatus {
  candidate: { name: string; version: string };
  frames: number;
  agreement: number | null;
  disagreements: { candidate_rejects: number; candidate_passes: number };
  drift: "ok" | "warn" | "alarm" | null;
}

/** What the live view says about acting on the line. */
export type LineStatusInputs =
  | { failed: true }
  | {
      failed: boolean;
      ready: boolean;
      online: boolean;
      paused: boolean;
      parts: number;
      ejected: number;
      failSafe: number;
      failSafeAction: "reject" | "pass";
      /** A part got the fail-safe in the last minute. */
      recentFailSafe: boolean;
      missed: number;
    };

/** The line I/O status in plain words (pure). */
export function lineStatus(l: LineStatusInputs): StatusLine {
  const title = "Reject output";
  if (l.failed || !("ready" in l))
    return { light: "alarm", title, text: "NOT driven: the output thread stopped; restart the service" };
  const fate = l.failSafeAction === "reject" ? "rejected" : "passed uninspected";
  if (!l.online)
    return { light: "warn", title, text: `Offline (set by the PLC): every part is ${fate} by the fail-safe` };
  if (l.paused) return { light: "warn", title, text: `Inspection paused: every part is ${fate} by the fail-safe` };
  if (!l.ready) return { light: "warn", title, text: "Not ready: the PLC sees the device as not inspecting" };
  const counts = `${l.parts} parts, ${l.ejected} ejected`;
  if (l.recentFailSafe)
    return {
      light: "warn",
      title,
      text: `Ready, but parts were ${fate} by the fail-safe in the last minute (${l.failSafe} so far, ${l.missed} without a picture): the camera or the model does not keep up`,
    };
  return { light: "ok", title, text: `Ready: ${counts}, each at its time` };
}

const CAMERA: Record<string, [Light, string]> = {
  streaming: ["ok", "Frames are arriving"],
  starting: ["warn", "Starting the camera"],
  stalled: ["alarm", "No frames from the camera: check its cable and power; it is being restarted"],
  failed: ["alarm", "The camera could not be started: see the service log"],
  stopped: ["off", "The camera is stopped"],
};

export function statusLines(s: StatusInputs): {
  camera: StatusLine;
  model: StatusLine;
  drift: StatusLine;
  broker: StatusLine;
  line?: StatusLine;
  shadow?: StatusLine;
  gate?: StatusLine;
} {
  const [camLight, camText] = CAMERA[s.camera.state] ?? ["warn", `Camera ${s.camera.state}`];
  const paused = s.pipeline === "paused";
  const model: StatusLine = paused
    ? { light: "warn", title: "Inspection", text: "Paused: parts are NOT being inspected" }
    : {
        light: s.pipeline === "running" ? "ok" : "warn",
        title: "Inspection",
        text:
          s.pipeline === "running"
            ? `Model ${s.model.name} ${s.model.version}, threshold ${s.model.threshold}`
            : `Inspection ${s.pipeline}`,
      };
  let drift: StatusLine;
  if (!s.drift) drift = { light: "off", title: "Line vs training", text: "Drift detection is off" };
  else if (!s.drift.ready)
    drift = { light: "off", title: "Line vs training", text: "Collecting frames to compare with the training data" };
  else if (s.drift.status === "ok")
    drift = { light: "ok", title: "Line vs training", text: "The line looks like the training data" };
  else
    drift = {
      light: s.drift.status,
      title: "Line vs training",
      text: headline(s.drift.reasons[0] ?? "the line no longer looks like the training data"),
    };
  const broker: StatusLine = s.broker.connected
    ? { light: "ok", title: "MQTT", text: "Connected: results reach the plant systems" }
    : {
        light: "warn",
        title: "MQTT",
        text: `Broker unreachable: ${s.broker.queued} message(s) kept for later; inspection goes on`,
      };
  return {
    camera: { light: camLight, title: `Camera (${s.camera.source})`, text: camText },
    model,
    drift,
    broker,
    ...(s.line ? { line: lineStatus(s.line) } : {}),
    ...(s.shadow ? { shadow: shadowLine(s.shadow) } : {}),
    ...(s.gate ? { gate: gateLine(s.gate) } : {}),
  };
}

/** "round-parts@1.1.0 against round-parts@1.0.0 on 400 labeled parts: misses 7.5% of defects (now 1.3%) ...: refused" */
export function gateLine(g: GateStatus): StatusLine {
  const rate = (x: number | null) => (x === null ? "?" : `${(Math.round(x * 1000) / 10).toString()}%`);
  const figures =
    `misses ${rate(g.missed.candidate)} of defects (now ${rate(g.missed.active)}), ` +
    `rejects ${rate(g.falseRejects.candidate)} of good parts (now ${rate(g.falseRejects.active)})`;
  const on = `${g.candidate} against ${g.active} on ${g.samples} labeled parts`;
  if (g.verdict === "pass") return { light: "ok", title: "Model gate", text: `Passed: ${on}: ${figures}` };
  return {
    light: "warn",
    title: "Model gate",
    text: `Refused: ${on}: ${figures}. ${g.reasons[0] ?? ""}`.trim(),
  };
}

/** "Trying model X 1.1.0 beside it (not acted on): same decision on 98.8% of 590 parts; ..." */
export function shadowLine(s: ShadowStatus): StatusLine {
  const title = "Model on trial";
  const who = `${s.candidate.name} ${s.candidate.version}`;
  if (s.frames === 0 || s.agreement === null)
    return { light: "ok", title, text: `Trying model ${who} beside the running one (not acted on): no part yet` };
  const pct = `${(Math.round(s.agreement * 1000) / 10).toString()}%`;
  const { candidate_rejects: rejects, candidate_passes: passes } = s.disagreements;
  const differs =
    rejects + passes === 0
      ? "it never decided differently"
      : `it would have rejected ${rejects} part(s) that passed and passed ${passes} that were rejected: label them (reason "disagreement")`;
  const drifted = s.drift && s.drift !== "ok" ? "; the line does not look like its training data" : "";
  return {
    light: s.drift === "alarm" ? "warn" : "ok",
    title,
    text: `Trying model ${who} beside the running one (not acted on): same decision on ${pct} of ${s.frames} parts; ${differs}${drifted}`,
  };
}

/** What kind of change a drift reason describes, for a person at the line, by its first words. */
const KINDS: [RegExp, string][] = [
  [/^(brightness|contrast|colour cast|red|green|blue)\b/, "Lighting changed"],
  [/^sharpness\b/, "Picture less sharp"],
  [/^model score\b/, "Parts look different"],
  [/^(reject|uncertain) rate\b/, "Reject rate unusual"],
];

/** "Lighting changed: brightness down 22% (PSI 0.41): check the lighting ..." */
export function headline(reason: string): string {
  const kind = KINDS.find(([re]) => re.test(reason))?.[1];
  return kind ? `${kind}: ${reason}` : capitalise(reason);
}

function capitalise(t: string): string {
  return t.charAt(0).toUpperCase() + t.slice(1);
}
