import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { lineIoOptions } from "../../src/line/line.js";
import { SimulatedWires } from "../../src/line/simulated-wires.js";
import { configProblems } from "../helpers/config.js";

const line = (l: object) => configProblems({ device: { id: "a" }, line: l });
const parsed = (l: object) => parseConfig({ device: { id: "a" }, line: l }, "t.yaml", "/etc/linesight").config.line;

describe("line configuration", () => {
  it("is off by default, so inspection without line I/O is unchanged", () => {
    const l = parseConfig({ device: { id: "a" } }, "t.yaml", "/etc/linesight").config.line;
    expect(l.enabled).toBe(false);
    expect(l).toMatchObject({
      backend: "gpio",
      fail_safe: "reject",
      trigger: { source: "none", edge: "rising", debounce_ms: 5, capture_delay_ms: 0 },
      reject: { delay_ms: 300, pulse_ms: 50, active_low: false, line: null },
      heartbeat: { period_ms: 100 },
      modbus: { enabled: false, host: "127.0.0.1", port: 5020, unit_id: 1, results_buffer: 4 },
    });
  });

  it("accepts a Pi 5 photo-eye and air jet by line name and a heartbeat by offset", () => {
    expect(
      line({
        enabled: true,
        gpio_chip: "pinctrl-rp1",
        trigger: { source: "gpio", line: "GPIO17", bias: "pull_up", edge: "falling", capture_delay_ms: 20 },
        reject: { line: "GPIO27", delay_ms: 450, pulse_ms: 40 },
        ready: { line: "GPIO22" },
        heartbeat: { line: 23, active_low: true },
        fail_safe: "pass",
      }),
    ).toEqual([]);
  });

  it("names the missing chip and reject line when enabled on GPIO", () => {
    const p = line({ enabled: true }).join("\n");
    expect(p).toMatch(/line\.gpio_chip: .*its label \(e\.g\. pinctrl-rp1/);
    expect(p).toMatch(/line\.reject\.line: .*reject output's GPIO line/);
  });

  it("needs no GPIO settings on the simulated line", () => {
    expect(
      line({ enabled: true, backend: "simulated", trigger: { source: "modbus" }, modbus: { enabled: true } }),
    ).toEqual([]);
  });

  it("checks the trigger: a gpio trigger needs its line, a modbus trigger the server, other sources no line", () => {
    const base = { enabled: true, gpio_chip: "pinctrl-rp1", reject: { line: "GPIO27" } };
    expect(line({ ...base, trigger: { source: "gpio" } }).join("\n")).toMatch(
      /line\.trigger\.line: trigger\.source gpio needs the photo-eye's GPIO line/,
    );
    expect(line({ ...base, trigger: { source: "modbus" } }).join("\n")).toMatch(
      /line\.trigger\.source: .*set line\.modbus\.enabled: true/,
    );
    expect(line({ ...base, trigger: { source: "none", line: "GPIO17" } }).join("\n")).toMatch(
      /line\.trigger\.line: a trigger line is read only with trigger\.source gpio/,
    );
  });

  it("refuses an eject delay the picture cannot be taken and decided in", () => {
    expect(
      line({
        enabled: true,
        backend: "simulated",
        trigger: { capture_delay_ms: 100 },
        reject: { delay_ms: 80 },
      }).join("\n"),
    ).toMatch(/line\.reject\.delay_ms: must be longer than trigger\.capture_delay_ms \(100\)/);
  });

  it("refuses one GPIO line for two functions", () => {
    expect(
      line({
        enabled: true,
        gpio_chip: "pinctrl-rp1",
        trigger: { source: "gpio", line: 17 },
        reject: { line: 17 },
      }).join("\n"),
    ).toMatch(/line\.reject\.line: GPIO line 17 is already trigger\.line/);
  });

  it("reports bad values with their key", () => {
    const p = line({
      fail_safe: "maybe",
      reject: { pulse_ms: 0 },
      modbus: { port: 70000, unit_id: 0, results_buffer: 99 },
      trigger: { edge: "both", debounce_ms: -1 },
      output_priority: "max",
      reject_line: 4,
    }).join("\n");
    for (const key of [
      "line.fail_safe",
      "line.reject.pulse_ms",
      "line.modbus.port",
      "line.modbus.unit_id",
      "line.modbus.results_buffer",
      "line.trigger.edge",
      "line.trigger.debounce_ms",
      "line.output_priority",
      "line.reject_line: unknown key",
    ])
      expect(p).toContain(key);
  });

  it("keeps a line name or offset as written", () => {
    expect(parsed({ reject: { line: "GPIO27" }, ready: { line: 5 } })).toMatchObject({
      reject: { line: "GPIO27" },
      ready: { line: 5 },
    });
    expect(line({ reject: { line: "no;pe" } }).join("\n")).toMatch(/line\.reject\.line/);
  });

  it("maps to the output thread's options: free-run without a trigger source, delays and polarity as configured", () => {
    const wires = new SimulatedWires();
    const o = lineIoOptions(
      parsed({
        enabled: true,
        backend: "simulated",
        trigger: { capture_delay_ms: 7, debounce_ms: 3, edge: "falling" },
        reject: { delay_ms: 400, pulse_ms: 25, active_low: true },
        fail_safe: "pass",
        output_priority: "high",
      }),
      wires,
    );
    wires.close();
    expect(o.tracker).toEqual({
      mode: "free_run",
      debounceMs: 3,
      captureDelayMs: 7,
      ejectDelayMs: 400,
      failSafe: "pass",
      commitLeadMs: 1,
    });
    expect(o).toMatchObject({ triggerEdge: "falling", pulseMs: 25, heartbeatMs: 100, priority: "high" });
    expect(o.outputs.reject).toEqual({ activeLow: true });
    expect(lineIoOptions(parsed({ trigger: { source: "modbus" }, backend: "simulated" }), wires).tracker.mode).toBe(
      "trigger",
    );
  });
});
