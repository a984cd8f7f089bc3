// The one map of what linesight publishes: topic name -> payload type, retain, QoS, and what the
// publisher does with a message while the broker is unreachable. Every publish is typed through
// it, so sending a payload on the wrong topic is a compile error (the zigbee2mqtt api.ts idea).
import type { Assert, PayloadTopic, Same } from "./payload-schemas.js";
import type {
  DecisionPayload,
  DriftPayload,
  EventPayload,
  HealthPayload,
  ModelPayload,
  StatePayload,
  StatusPayload,
} from "./payloads.js";

/**
 * How a message travels:
 * - "birth": managed by the publisher itself (`online` on connect, `offline` as will and on stop)
 * - "queue": through the durable outbox, deleted on PUBACK; what an outage holds back is sent in
 *   order on reconnect (every health sample, not just the last)
 * - "drop": sent at once or dropped and counted (high-rate, only useful live)
 */
export type OfflinePolicy = "birth" | "queue" | "drop";

export interface TopicSpec<P> {
  readonly retain: boolean;
  readonly qos: 0 | 1;
  readonly offline: OfflinePolicy;
  /** Type-level only: carries the payload type. Never set at runtime. */
  readonly __payload?: P;
}

function topic<P>(retain: boolean, qos: 0 | 1, offline: OfflinePolicy): TopicSpec<P> {
  return { retain, qos, offline };
}

export const TOPICS = {
  status: topic<StatusPayload>(true, 1, "birth"),
  state: topic<StatePayload>(true, 1, "queue"),
  health: topic<HealthPayload>(true, 1, "queue"),
  drift: topic<DriftPayload>(true, 1, "queue"),
  event: topic<EventPayload>(false, 1, "queue"),
  decision: topic<DecisionPayload>(false, 0, "drop"),
  model: topic<ModelPayload>(true, 1, "queue"),
} as const;

export type Topics = typeof TOPICS;
export type TopicName = keyof Topics;
/** Compile-time: the map publishes exactly the topics the contract (payload-schemas.ts) describes. */
export type _TopicsMatchContract = Assert<Same<TopicName, PayloadTopic>>;
export type PayloadOf<K extends TopicName> = Topics[K] extends TopicSpec<infer P> ? P : never;
/** What callers may publish: `status` belongs to the publisher (birth, will, stop). */
export type PublishTopic = Exclude<TopicName, "status">;

/** Topic names in declaration order (stable output for generated schemas and docs). */
export const TOPIC_NAMES = Object.keys(TOPICS) as TopicName[];

/** Full topic for `name` under `prefix`, e.g. topicFor("linesight/cam-1", "state") = "linesight/cam-1/state". */
export function topicFor(prefix: string, name: TopicName): string {
  return `${prefix}/${name}`;
}

/** Rejects prefixes a broker would refuse or that would publish somewhere surprising. */
export function checkPrefix(prefix: string): string | null {
  if (prefix.length === 0) return "the MQTT topic prefix is empty";
  if (/[+#]/.test(prefix))
    return `the MQTT topic prefix "${prefix}" contains a wildcard (+ or #), which cannot be published to`;
  if (prefix.endsWith("/")) return `the MQTT topic prefix "${prefix}" ends with "/"; drop the trailing slash`;
  if (prefix.startsWith("$"))
    return `the MQTT topic prefix "${prefix}" starts with "$", which brokers reserve (e.g. $SYS)`;
  if (prefix.includes("\u0000")) return "the MQTT topic prefix contains a NUL character";
  return null;
}

/** Wire form of a payload: status is a plain string (Home Assistant availability), the rest JSON. */
export function encodePayload<K extends TopicName>(name: K, payload: PayloadOf<K>): string {
  return name === "status" ? (payload as StatusPayload) : JSON.stringify(payload);
}
