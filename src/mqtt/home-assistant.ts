// Home Assistant MQTT discovery: one retained config message per entity, so a device appears in
// Home Assistant (and anything else that reads the same convention) with no YAML written by hand.
// Pure: builds the messages; the publisher sends them retained on every connect.
import { cameraStateSchema, levelSchema, pipelineStateSchema } from "./payload-schemas.js";
import { type TopicName, topicFor } from "./topics.js";

export interface DiscoveryInput {
  /** linesight's own topic prefix, e.g. linesight/cam-1. */
  prefix: string;
  discoveryPrefix: string;
  device: { id: string; site: string; line: string };
  version: string;
  model: { name: string; version: string };
}

/** One entity: which of our topics it reads and the JSON path of its value there. */
export interface EntitySpec {
  key: string;
  component: "sensor" | "binary_sensor";
  name: string;
  topic: TopicName;
  /** Path into the payload, e.g. ["camera", "state"]. */
  path: readonly string[];
  extra?: Record<string, unknown>;
  /** Jinja expression over `v` (the value at `path`) when the raw value is not what HA should show. */
  expression?: string;
  /** Also expose the value at `path` as the entity's attribute of the same name (e.g. the alert list). */
  attribute?: boolean;
}

export const ENTITIES: readonly EntitySpec[] = [
  {
    key: "pipeline",
    component: "sensor",
    name: "Inspection",
    topic: "state",
    path: ["pipeline"],
    extra: { device_class: "enum", options: pipelineStateSchema.options, icon: "mdi:eye-check" },
  },
  {
    key: "camera",
    component: "sensor",
    name: "Camera",
    topic: "state",
    path: ["camera", "state"],
    extra: { device_class: "enum", options: cameraStateSchema.options, icon: "mdi:cctv" },
  },
  {
    key: "reject_rate",
    component: "sensor",
    name: "Reject rate",
    topic: "health",
    path: ["reject_rate"],
    // null when nothing was decided in the interval (paused, camera down): shown as unknown.
    expression: "(v * 100) | round(2) if v is not none else none",
    extra: { unit_of_measurement: "%", state_class: "measurement", icon: "mdi:close-octagon" },
  },
  {
    key: "fps",
    component: "sensor",
    name: "Frames per second",
    topic: "health",
    path: ["fps_out"],
    extra: { unit_of_measurement: "fps", state_class: "measurement", icon: "mdi:speedometer" },
  },
  {
    key: "inspected",
    component: "sensor",
    name: "Inspected",
    topic: "health",
    path: ["frames", "decided"],
    extra: { state_class: "total_increasing", icon: "mdi:counter" },
  },
  {
    key: "rejected",
    component: "sensor",
    name: "Rejected",
    topic: "health",
    path: ["decisions", "reject"],
    extra: { state_class: "total_increasing", icon: "mdi:counter" },
  },
  {
    key: "drift",
    component: "sensor",
    name: "Drift",
    topic: "drift",
    path: ["status"],
    extra: { device_class: "enum", options: levelSchema.options, icon: "mdi:chart-bell-curve" },
  },
  {
    key: "problem",
    component: "binary_sensor",
    name: "Problem",
    topic: "health",
    path: ["alerts"],
    expression: "'ON' if v | length > 0 else 'OFF'",
    attribute: true,
    extra: { device_class: "problem" },
  },
];

export interface DiscoveryMessage {
  topic: string;
  body: string;
}

/** The retained discovery configs for `input`; topics follow <discovery_prefix>/<component>/<node>/<object>/config. */
export function discoveryMessages(input: DiscoveryInput): DiscoveryMessage[] {
  const node = `linesight_${input.device.id}`;
  const device = {
    identifiers: [node],
    name: `linesight ${input.device.id}`,
    manufacturer: "linesight",
    model: `${input.model.name} ${input.model.version}`,
    sw_version: input.version,
    ...(input.device.line ? { suggested_area: input.device.line } : {}),
  };
  return ENTITIES.map((e) => {
    const value = `value_json${e.path.map((k) => `[${JSON.stringify(k)}]`).join("")}`;
    const template = e.expression ? `{% set v = ${value} %}{{ ${e.expression} }}` : `{{ ${value} }}`;
    const last = e.path[e.path.length - 1] as string;
    const config = {
      name: e.name,
      unique_id: `${node}_${e.key}`,
      object_id: `${node}_${e.key}`,
      state_topic: topicFor(input.prefix, e.topic),
      value_template: template,
      availability_topic: topicFor(input.prefix, "status"),
      payload_available: "online",
      payload_not_available: "offline",
      ...(e.component === "binary_sensor" ? { payload_on: "ON", payload_off: "OFF" } : {}),
      ...(e.attribute
        ? {
            json_attributes_topic: topicFor(input.prefix, e.topic),
            json_attributes_template: `{{ {${JSON.stringify(last)}: ${value}} | tojson }}`,
          }
        : {}),
      ...e.extra,
      device,
      origin: { name: "linesight", sw_version: input.version },
    };
    return { topic: `${input.discoveryPrefix}/${e.component}/${node}/${e.key}/config`, body: JSON.stringify(config) };
  });
}
