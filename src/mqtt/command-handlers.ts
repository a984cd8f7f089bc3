// What each remote command does to the running daemon, and the MQTT wiring of requests to
// replies. The daemon hands over narrow accessors (no config reading, no globals here); the
// validation, size and rate limits are CommandRouter's (commands.ts).
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import { bandWarning, type DecisionPolicy } from "../decision/decide.js";
import type { TakenFrame } from "../pipeline/snapshot-requests.js";
import {
  CommandError,
  type CommandHandlers,
  CommandRouter,
  commandNameOf,
  redactedConfig,
  responseTopicAllowed,
} from "./commands.js";
import { type ModelCommands, modelCommandHandlers } from "./model-commands.js";
import type { CommandReplyPayload, HealthPayload } from "./payloads.js";
import type { CommandResponseTo, MqttPublisher } from "./publisher.js";

/** How long `snapshot` waits for a frame to be decided, then for its sample to be written. */
const SNAPSHOT_FRAME_TIMEOUT_MS = 10_000;
const SNAPSHOT_WRITE_TIMEOUT_MS = 5_000;

export interface DaemonControls {
  config: Config;
  version: string;
  uptimeS(): number;
  latestHealth(): HealthPayload | null;
  stopping(): boolean;
  policy(): DecisionPolicy;
  /** Applies a new policy from the next frame on and republishes state. */
  setPolicy(p: DecisionPolicy): void;
  paused(): boolean;
  /** Pauses or resumes; returns whether that changed anything. */
  setPaused(paused: boolean): boolean;
  nextFrame(timeoutMs: number): Promise<TakenFrame | null>;
  sampleId(seq: number, timeoutMs: number): Promise<number | null>;
  /** The model-lifecycle part; null without a model store. */
  models: ModelCommands | null;
  /** A command changed something: log it and publish a `command` event. */
  announce(command: string, id: string | null, args: object, result: object, message: string): void;
}

export function commandHandlers(d: DaemonControls): CommandHandlers {
  const notStopping = () => {
    if (d.stopping()) throw new CommandError("unavailable", "the daemon is stopping");
  };
  return {
    ...modelCommandHandlers(d.models),
    ping: () => ({ uptime_s: d.uptimeS(), version: d.version }),
    get_config: () => redactedConfig(d.config),
    get_stats: () => ({ health: d.latestHealth() }),
    set_threshold: (args, req) => {
      notStopping();
      const old = d.policy();
      const policy = { ...old, threshold: args.threshold, uncertainBand: args.uncertain_band ?? old.uncertainBand };
      d.setPolicy(policy);
      const warning = bandWarning(policy);
      const result = {
        threshold: policy.threshold,
        uncertain_band: policy.uncertainBand,
        previous: { threshold: old.threshold, uncertain_band: old.uncertainBand },
        ...(warning ? { warning } : {}),
      };
      d.announce(
        "set_threshold",
        req.id,
        args,
        result,
        `Threshold changed remotely from ${old.threshold} to ${policy.threshold} (uncertain band ${policy.uncertainBand})`,
      );
      return result;
    },
    pause: (args, req) => {
      notStopping();
      const result = { paused: true, changed: d.setPaused(true) };
      d.announce("pause", req.id, args, result, "Inspection paused remotely: frames are not decided until resume");
      return result;
    },
    resume: (args, req) => {
      notStopping();
      const result = { paused: false, changed: d.setPaused(false) };
      d.announce("resume", req.id, args, result, "Inspection resumed remotely");
      return result;
    },
    snapshot: async (args, req) => {
      if (d.paused()) throw new CommandError("paused", "inspection is paused: no frame will be decided; resume first");
      const taken = await d.nextFrame(SNAPSHOT_FRAME_TIMEOUT_MS);
      if (!taken)
        throw new CommandError("timeout", `no frame was decided within ${SNAPSHOT_FRAME_TIMEOUT_MS / 1000} s`);
      if (!taken.stored)
        throw new CommandError(
          "unavailable",
          `frame ${taken.seq} was decided but the sample store refused it (queue full or closing)`,
        );
      const sampleId = await d.sampleId(taken.seq, SNAPSHOT_WRITE_TIMEOUT_MS);
      if (sampleId === null)
        throw new CommandError("unavailable", `frame ${taken.seq} could not be written to the sample store in time`);
      const result = {
        sample_id: sampleId,
        seq: taken.seq,
        captured_at: new Date(taken.capturedAt).toISOString(),
        reason: "snapshot",
      };
      d.announce(
        "snapshot",
        req.id,
        args,
        result,
        `Frame ${taken.seq} stored as snapshot sample ${sampleId} on request`,
      );
      return result;
    },
  };
}

/**
 * Subscribes to <prefix>/cmd/+ and <groupPrefix>/cmd/+ and answers each request on
 * <prefix>/cmd/<name>/reply (also for group commands), and for an MQTT 5 request also on the
 * response topic the caller asked for, with its correlation data.
 */
export function listenForCommands(
  publisher: MqttPublisher,
  handlers: CommandHandlers,
  opts: { prefix: string; groupPrefix: string | null; logger: Logger; installMaxBytes?: number },
): void {
  const { prefix, groupPrefix, logger } = opts;
  const router = new CommandRouter(handlers, opts.installMaxBytes ? { installMaxBytes: opts.installMaxBytes } : {});
  const filters = [`${prefix}/cmd/+`, ...(groupPrefix ? [`${groupPrefix}/cmd/+`] : [])];
  const answer = (name: string, reply: CommandReplyPayload, responseTo: CommandResponseTo | null) => {
    // Refusals at debug level: a flood of bad requests must not flood the journal either.
    if (!reply.ok) logger.debug({ command: name, id: reply.id, error: reply.error }, "command refused");
    const body = JSON.stringify(reply);
    const replyTopic = `${prefix}/cmd/${name}/reply`;
    const to = responseTo && responseTopicAllowed(responseTo.topic, prefix, groupPrefix) ? responseTo : null;
    publisher.publishReply(replyTopic, body, to?.topic === replyTopic ? to.correlationData : undefined);
    if (to && to.topic !== replyTopic) publisher.publishReply(to.topic, body, to.correlationData);
  };
  publisher.subscribeCommands(
    filters,
    (topic, payload, responseTo) => {
      const name = commandNameOf(topic);
      void router.handle(name, payload).then((reply) => answer(name, reply, responseTo));
    },
    // Skipped unread, so neither id nor response topic is known: the reply goes to the reply topic.
    (topic, bytes, limit) => {
      const name = commandNameOf(topic);
      const reply = router.tooLarge(name, bytes, limit);
      if (reply) answer(name, reply, null);
    },
  );
}
