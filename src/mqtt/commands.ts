// Remote commands over MQTT, the pure part: size limit, rate limit, JSON parsing, per-command
// argument validation and dispatch to handlers the daemon supplies. No I/O here: the publisher
// delivers request bytes and publishes the reply this returns. handle() never throws.
import { z } from "zod";
import { redactConfig } from "../config/redact.js";
import type { Config } from "../config/schema.js";
import type { commandErrorCodeSchema } from "./payload-schemas.js";
import type { CommandReplyPayload } from "./payloads.js";

/** Requests larger than this are refused before they are decoded. */
export const MAX_COMMAND_BYTES = 64 * 1024;
/** Token bucket: sustained commands per second, and the burst allowed above it. */
export const COMMAND_RATE_PER_S = 50;
export const COMMAND_BURST = 50;
/** Rate-limited requests up to this size are still decoded to echo their `id`. */
const ID_ECHO_MAX_BYTES = 1024;

export type CommandErrorCode = z.infer<typeof commandErrorCodeSchema>;

const id = z.string().min(1).max(256).optional().describe("correlation id, echoed in the reply");
const noArgs = z.strictObject({ id });

/** Arguments of each command (besides `id`); objects are strict: an unknown key is an error. */
export const COMMAND_ARGS = {
  ping: noArgs,
  get_config: noArgs,
  get_stats: noArgs,
  set_threshold: z.strictObject({
    id,
    threshold: z.number().min(0).max(1).describe("model score at or above which a part is rejected"),
    uncertain_band: z.number().min(0).max(0.5).optional().describe("half-width of the uncertain band"),
  }),
  pause: noArgs,
  resume: noArgs,
  snapshot: noArgs,
  // A JSON envelope for small bundles; the usual payload is the raw .lsm bytes (see installRequest).
  model_install: z.strictObject({
    id,
    bundle_base64: z.string().min(1).describe("the .lsm bundle, base64"),
    allow_downgrade: z.boolean().optional().describe("install a version older than the active one"),
  }),
  model_status: noArgs,
  model_gate: noArgs,
  model_promote: z.strictObject({
    id,
    force: z.boolean().optional().describe("promote even when the gate refuses (said in the event)"),
  }),
  model_rollback: noArgs,
  model_discard: noArgs,
} as const;

export type CommandName = keyof typeof COMMAND_ARGS;
export const COMMAND_NAMES = Object.keys(COMMAND_ARGS) as CommandName[];
/** Commands that change what the device does: logged and announced as `command` events. */
export const MUTATING_COMMANDS: ReadonlySet<CommandName> = new Set([
  "set_threshold",
  "pause",
  "resume",
  "snapshot",
  "model_install",
  "model_promote",
  "model_rollback",
  "model_discard",
]);

/** model_install's arguments as the handler gets them, from raw bytes or the JSON envelope. */
export interface InstallArgs {
  bundle: Uint8Array;
  allow_downgrade: boolean;
}

export type CommandArgs<K extends CommandName> = K extends "model_install"
  ? InstallArgs
  : Omit<z.infer<(typeof COMMAND_ARGS)[K]>, "id">;

/** A handler's refusal with a reason the caller can act on (e.g. `paused`). */
export class CommandError extends Error {
  constructor(
    readonly code: CommandErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "CommandError";
  }
}

export type CommandHandlers = {
  [K in CommandName]: (args: CommandArgs<K>, request: { id: string | null }) => object | Promise<object>;
};

export interface CommandRouterOptions {
  maxBytes?: number;
  /** model_install's own limit (a bundle, not a command); default maxBytes. */
  installMaxBytes?: number;
  ratePerS?: number;
  burst?: number;
  /** Monotonic milliseconds. Default performance.now(). */
  now?: () => number;
}

/** Last path segment of a command topic: ".../cmd/<name>" -> "<name>". */
export function commandNameOf(topic: string): string {
  return topic.slice(topic.lastIndexOf("/") + 1);
}

export class CommandRouter {
  private tokens: number;
  private last: number;
  private readonly maxBytes: number;
  private readonly installMaxBytes: number;
  private readonly ratePerS: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });

  constructor(
    private readonly handlers: CommandHandlers,
    opts: CommandRouterOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? MAX_COMMAND_BYTES;
    this.installMaxBytes = opts.installMaxBytes ?? this.maxBytes;
    this.ratePerS = opts.ratePerS ?? COMMAND_RATE_PER_S;
    this.burst = opts.burst ?? COMMAND_BURST;
    this.now = opts.now ?? (() => performance.now());
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** The reply to one request. Never throws, never rejects. */
  async handle(command: string, payload: Uint8Array): Promise<CommandReplyPayload> {
    let requestId: string | null = null;
    try {
      if (!this.take()) {
        if (payload.byteLength <= ID_ECHO_MAX_BYTES) requestId = idOf(this.decode(payload));
        return fail(requestId, command, "rate_limited", `more than ${this.ratePerS} commands per second; try again`);
      }
      const limit = command === "model_install" ? this.installMaxBytes : this.maxBytes;
      if (payload.byteLength > limit) {
        const key = command === "model_install" ? " (model.max_bundle_mb)" : "";
        return fail(null, command, "too_large", `request of ${payload.byteLength} bytes; the limit is ${limit}${key}`);
      }
      if (command === "model_install" && !isJsonObject(payload)) {
        // The raw .lsm bytes: no id in the payload (MQTT 5 correlation data still pairs the reply).
        if (payload.byteLength === 0)
          return fail(null, command, "invalid_args", "empty payload: send the .lsm bundle's bytes");
        const result = await this.handlers.model_install({ bundle: payload, allow_downgrade: false }, { id: null });
        return { schema: 1, id: null, command, ok: true, result: result as Record<string, unknown> };
      }
      const decoded = this.decode(payload);
      if (!decoded.ok) return fail(null, command, "bad_json", decoded.error);
      requestId = idOf(decoded);
      if (!Object.hasOwn(COMMAND_ARGS, command)) {
        return fail(requestId, command, "unknown_command", `unknown command; known: ${COMMAND_NAMES.join(", ")}`);
      }
      const name = command as CommandName;
      const parsed = COMMAND_ARGS[name].safeParse(decoded.value);
      if (!parsed.success) return fail(requestId, command, "invalid_args", z.prettifyError(parsed.error));
      const { id: _, ...rest } = parsed.data;
      const args = name === "model_install" ? installArgs(rest as { bundle_base64: string }) : rest;
      const handler = this.handlers[name] as (a: object, r: { id: string | null }) => object | Promise<object>;
      const result = await handler(args, { id: requestId });
      return { schema: 1, id: requestId, command, ok: true, result: result as Record<string, unknown> };
    } catch (err) {
      if (err instanceof CommandError) return fail(requestId, command, err.code, err.message);
      return fail(requestId, command, "internal", err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * The reply to a request the transport skipped unread for being above mqtt.max_message_kb;
   * null when over the rate limit (a flood of them gets no flood of replies).
   */
  tooLarge(command: string, bytes: number, limit: number): CommandReplyPayload | null {
    if (!this.take()) return null;
    return fail(
      null,
      command,
      "too_large",
      `request of ${bytes} bytes, above mqtt.max_message_kb (${limit} bytes): skipped unread`,
    );
  }

  private take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerS);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** An empty payload is `{}` (handy with `mosquitto_pub -n`); anything else must be UTF-8 JSON. */
  private decode(payload: Uint8Array): { ok: true; value: unknown } | { ok: false; error: string } {
    if (payload.byteLength === 0) return { ok: true, value: {} };
    let text: string;
    try {
      text = this.decoder.decode(payload);
    } catch {
      return { ok: false, error: "the request is not UTF-8 text" };
    }
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (err) {
      return { ok: false, error: `not JSON: ${(err as Error).message}` };
    }
  }
}

/** A JSON envelope starts with "{" (after blanks); a bundle starts with its first file's name. */
function isJsonObject(payload: Uint8Array): boolean {
  for (const b of payload) {
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
    return b === 0x7b;
  }
  return false;
}

function installArgs(a: { bundle_base64: string; allow_downgrade?: boolean }): InstallArgs {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(a.bundle_base64))
    throw new CommandError("invalid_args", "bundle_base64 is not base64");
  return { bundle: Buffer.from(a.bundle_base64, "base64"), allow_downgrade: a.allow_downgrade ?? false };
}

function idOf(decoded: { ok: boolean; value?: unknown }): string | null {
  const v = decoded.ok ? decoded.value : undefined;
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const candidate = (v as Record<string, unknown>).id;
  return typeof candidate === "string" && candidate.length > 0 && candidate.length <= 256 ? candidate : null;
}

function fail(id: string | null, command: string, code: CommandErrorCode, message: string): CommandReplyPayload {
  // The topic segment is echoed; bound it so a silly name cannot make a silly reply.
  return { schema: 1, id, command: command.slice(0, 128), ok: false, error: { code, message: message.slice(0, 2000) } };
}

/**
 * The config for `get_config`, a copy with every secret masked by the one rule of
 * config/redact.ts: user info in any URL (camera and broker), secret-named keys, GStreamer
 * properties and options in pipelines and extra_args. Every subscriber of the reply reads it.
 */
export function redactedConfig(config: Config): Config {
  return redactConfig(config);
}

/**
 * Whether an MQTT 5 response topic may be answered on. The broker's ACL is the real guard; this
 * only stops a request from making the device publish over its own telemetry or into a command
 * topic (which would echo the reply back as a request).
 */
export function responseTopicAllowed(topic: string, prefix: string, groupPrefix: string | null): boolean {
  if (
    topic.length === 0 ||
    topic.length > 512 ||
    /[+#]/.test(topic) ||
    topic.includes("\u0000") ||
    topic.startsWith("$")
  )
    return false;
  const under = (p: string) => topic === p || topic.startsWith(`${p}/`);
  if (under(prefix)) return /^cmd\/[^/]+\/reply$/.test(topic.slice(prefix.length + 1));
  if (groupPrefix && under(groupPrefix)) return false;
  return true;
}
