// JSON Schemas (draft 2020-12) of every payload, generated from the zod schemas for readers that
// are not TypeScript. scripts/mqtt-schemas.mjs writes them to docs/mqtt-schemas/; a unit test
// fails when the committed files differ from what this produces.
import { z } from "zod";
import { commandReplyPayloadSchema, EVENT_DATA_SCHEMAS, PAYLOAD_SCHEMAS } from "./payload-schemas.js";
import { TOPIC_NAMES, TOPICS, type TopicName } from "./topics.js";

/** Where the generated files live, relative to the repository root. */
export const JSON_SCHEMA_DIR = "docs/mqtt-schemas";

export function jsonSchemaFile(name: TopicName): string {
  return `${name}.schema.json`;
}

/** The JSON Schema of one topic's payload, with what a reader needs to know about the topic. */
export function payloadJsonSchema(name: TopicName): Record<string, unknown> {
  const spec = TOPICS[name];
  const { $schema, description, ...body } = z.toJSONSchema(PAYLOAD_SCHEMAS[name], { target: "draft-2020-12" });
  return {
    $schema,
    title: `linesight <prefix>/${name} payload`,
    description:
      `Topic <prefix>/${name} (prefix default linesight/<device.id>); retained: ${spec.retain ? "yes" : "no"}, ` +
      `QoS ${spec.qos}.${description ? ` ${description}.` : ""} See docs/mqtt.md.`,
    ...body,
    ...(name === "event" ? { allOf: eventDataRules() } : {}),
  };
}

/** `data` per known event type; refinements do not carry over to JSON Schema, so say it with if/then. */
function eventDataRules(): Record<string, unknown>[] {
  return Object.entries(EVENT_DATA_SCHEMAS).map(([type, schema]) => {
    const { $schema: _, ...data } = z.toJSONSchema(schema, { target: "draft-2020-12" });
    return {
      if: { properties: { type: { const: type } }, required: ["type"] },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword; this object is never awaited
      then: { properties: { data }, required: ["data"] },
    };
  });
}

/** Replies to remote commands: not in the topic map (their topic is per command). */
export const COMMAND_REPLY_SCHEMA_FILE = "cmd-reply.schema.json";

export function commandReplyJsonSchema(): Record<string, unknown> {
  const { $schema, description, ...body } = z.toJSONSchema(commandReplyPayloadSchema, { target: "draft-2020-12" });
  return {
    $schema,
    title: "linesight <prefix>/cmd/<name>/reply payload",
    description: `Topic <prefix>/cmd/<name>/reply; retained: no, QoS 1. ${description ?? ""}. See docs/mqtt.md.`,
    ...body,
  };
}

/** File name -> file text, exactly as committed. */
export function jsonSchemaFiles(): Map<string, string> {
  const files = new Map(
    TOPIC_NAMES.map((name) => [jsonSchemaFile(name), `${JSON.stringify(payloadJsonSchema(name), null, 2)}\n`]),
  );
  files.set(COMMAND_REPLY_SCHEMA_FILE, `${JSON.stringify(commandReplyJsonSchema(), null, 2)}\n`);
  return files;
}
