// The line as the daemon will start it from `line:`: the PLC triggers parts over Modbus, the
// simulated camera and model decide them, the PLC reads each result through the acknowledge
// handshake, and the simulated ejector fires for the rejected and the fail-safe parts.
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import type { ModbusRTU as Client } from "modbus-serial/ModbusRTU.js";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { Line } from "../../src/line/line.js";
import { COIL, INPUT, REG, RESULT_CODE } from "../../src/line/plc-registers.js";
import { SimulatedWires } from "../../src/line/simulated-wires.js";

const ModbusRTU = createRequire(import.meta.url)("modbus-serial") as typeof Client;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function config(line: object) {
  return parseConfig({ device: { id: "a" }, line }, "t.yaml", "/etc/linesight").config.line;
}

describe("line from configuration", () => {
  it("PLC-triggered parts: one result per part through the handshake, ejector fires for rejects and fail-safe", async () => {
    const wires = new SimulatedWires();
    const line = await Line.start(
      config({
        enabled: true,
        backend: "simulated",
        trigger: { source: "modbus", debounce_ms: 5, capture_delay_ms: 0 },
        reject: { delay_ms: 150, pulse_ms: 10 },
        modbus: { enabled: true, port: 0, results_buffer: 4 },
      }),
      { wires },
    );
    closers.push(() => line.stop());
    const port = line.modbus?.port ?? 0;
    const plc = new ModbusRTU();
    await plc.connectTCP("127.0.0.1", { port });
    plc.setID(1);
    closers.push(() => new Promise<void>((resolve) => plc.close(() => resolve())));
    line.io.setReady(true);

    // The "camera and model": each new part's frame is taken and decided at once, except part 3.
    const verdicts = ["reject", "pass", null] as const;
    let seq = 0;
    line.io.on("part", ({ partId }) => {
      const frameSeq = ++seq;
      const captured = performance.now();
      line.io.frame(frameSeq, captured);
      const v = verdicts[partId - 1];
      if (v)
        line.io.decision(
          frameSeq,
          { action: v, score: v === "reject" ? 0.91 : 0.05, model: "round-parts@1.0.0" },
          captured,
        );
    });

    await plc.writeCoil(COIL.triggerEnable, true);
    for (let i = 0; i < 3; i++) {
      await plc.writeCoil(COIL.trigger, true);
      expect((await plc.readDiscreteInputs(INPUT.triggerAck, 1)).data[0]).toBe(true);
      await plc.writeCoil(COIL.trigger, false);
      await sleep(40);
    }
    await sleep(300);

    const results: number[][] = [];
    for (let i = 0; i < 3; i++) {
      expect((await plc.readDiscreteInputs(INPUT.resultsValid, 1)).data[0]).toBe(true);
      const r = (await plc.readInputRegisters(REG.partId, 8)).data;
      results.push([r[1] as number, r[4] as number, r[5] as number, r[7] as number]);
      await plc.writeCoil(COIL.resultsAck, true);
      await plc.writeCoil(COIL.resultsAck, false);
    }
    expect((await plc.readDiscreteInputs(INPUT.resultsValid, 1)).data[0]).toBe(false);
    // [part id, result code, score x1000, fail-safe cause]
    expect(results).toEqual([
      [1, RESULT_CODE.reject, 910, 0],
      [2, RESULT_CODE.pass, 50, 0],
      [3, RESULT_CODE.failSafeReject, 0xffff, 2],
    ]);
    expect(wires.pulses("reject")).toHaveLength(2);
    const counts = (await plc.readInputRegisters(REG.parts, 8)).data;
    expect([counts[1], counts[3], counts[5], counts[7]]).toEqual([3, 2, 0, 1]); // parts, rejects, missed, fail-safe
    const name = (await plc.readInputRegisters(REG.modelName, 8)).data;
    expect(
      Buffer.from(name.flatMap((w) => [w >> 8, w & 0xff]))
        .toString("latin1")
        .replace(/\0+$/, ""),
    ).toBe("round-parts@1.0.");
  });

  it("on a machine without the GPIO chip, the gpio backend fails at start naming the key and the label", async () => {
    // CI machines have no /dev/gpiochip* (the gpio-sim VM test has one: test/integration/gpio-sim.test.ts).
    await expect(
      Line.start(config({ enabled: true, gpio_chip: "no-such-chip", reject: { line: "GPIO27" } }), { wires: null }),
    ).rejects.toThrow(/line\.gpio_chip: no GPIO chip (on this machine .*|labelled )"no-such-chip"/);
  });
});
