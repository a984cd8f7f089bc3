// The documented MQTT contract cannot go stale: the committed JSON Schemas are what the zod schemas
// generate, docs/mqtt.md names every field of every payload, and its examples match the schemas.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { JSON_SCHEMA_DIR, jsonSchemaFiles, payloadJsonSchema } from "../../src/mqtt/json-schemas.js";
import { parseWirePayload } from "../../src/mqtt/payload-schemas.js";
import { TOPIC_NAMES, type TopicName } from "../../src/mqtt/topics.js";

const ROOT = resolve(import.meta.dirname, "../..");
const REGENERATE = "regenerate with `npm run mqtt:schemas` (builds dist/, then writes docs/mqtt-schemas/)";

describe("docs/mqtt-schemas", () => {
  const dir = join(ROOT, JSON_SCHEMA_DIR);
  const files = jsonSchemaFiles();

  it.each([...files.keys()])("%s is what the zod schemas generate", (name) => {
    const path = join(dir, name);
    expect(existsSync(path), `${JSON_SCHEMA_DIR}/${name} is missing: ${REGENERATE}`).toBe(true);
    expect(readFileSync(path, "utf8"), `${JSON_SCHEMA_DIR}/${name} is stale: ${REGENERATE}`).toBe(files.get(name));
  });

  it("holds no schema of a topic that no longer exists", () => {
    const extra = readdirSync(dir).filter((f) => f.endsWith(".schema.json") && !files.has(f));
    expect(extra, `stale files in ${JSON_SCHEMA_DIR}: ${REGENERATE}`).toEqual([]);
  });

  it("are draft 2020-12, closed objects, and the event schema describes the data of each known type", () => {
    const health = payloadJsonSchema("health");
    expect(health.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(health.additionalProperties).toBe(false);
    const rules = payloadJsonSchema("event").allOf as { if: { properties: { type: { const: string } } } }[];
    expect(rules.map((r) => r.if.properties.type.const)).toContain("disk_low");
  });
});

/** The text under each `## \`<p>/topic\`` heading, up to the next `## ` heading. */
function topicSections(markdown: string): Map<TopicName, string> {
  const sections = new Map<TopicName, string>();
  for (const part of markdown.split(/^(?=## )/m)) {
    const m = /^## `<p>\/(\w+)`/.exec(part);
    if (m && TOPIC_NAMES.includes(m[1] as TopicName)) sections.set(m[1] as TopicName, part);
  }
  return sections;
}

/** Every property name in a JSON Schema, however deeply nested (records, arrays, if/then). */
function propertyNames(schema: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) {
    for (const s of schema) propertyNames(s, into);
  } else if (schema && typeof schema === "object") {
    const s = schema as Record<string, unknown>;
    if (s.properties && typeof s.properties === "object") {
      for (const key of Object.keys(s.properties)) into.add(key);
    }
    for (const [key, value] of Object.entries(s)) if (key !== "required") propertyNames(value, into);
  }
  return into;
}

describe("docs/mqtt.md", () => {
  const sections = topicSections(readFileSync(join(ROOT, "docs/mqtt.md"), "utf8"));

  it("has a section per topic", () => {
    expect([...sections.keys()].sort()).toEqual([...TOPIC_NAMES].sort());
  });

  it.each(TOPIC_NAMES.filter((n) => n !== "status"))("names every field of %s in its section", (name) => {
    const text = sections.get(name) ?? "";
    // A field is named as `field` or inside a dotted path such as `frames.received` or `.p95`.
    const named = (key: string) => new RegExp(`\`([\\w<>.]*\\.)?${key}(\\.[\\w<>.]*)?\``).test(text);
    const missing = [...propertyNames(payloadJsonSchema(name))].filter((key) => !named(key));
    expect(missing, `fields of ${name} not described in docs/mqtt.md`).toEqual([]);
  });

  it.each(TOPIC_NAMES)("has examples of %s that match its schema", (name) => {
    const text = sections.get(name) ?? "";
    const fence = name === "status" ? "text" : "json";
    const examples = [...text.matchAll(new RegExp(`^\`\`\`${fence}\\n([\\s\\S]*?)^\`\`\``, "gm"))].map((m) =>
      (m[1] as string).trim(),
    );
    expect(examples.length, `no \`\`\`${fence} example in the ${name} section`).toBeGreaterThan(0);
    for (const example of examples) {
      const parsed = parseWirePayload(name, example);
      expect(parsed.success ? null : `${parsed.error}\n${example}`).toBeNull();
    }
  });
});
