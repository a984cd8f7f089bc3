import { describe, expect, it } from "vitest";
import { emptyLineCounters, type LineCounters, type PartFate } from "../../src/line/part-tracker.js";
import { COIL, INPUT, PlcRegisters, REG, RESULT_CODE, SCORE_NONE } from "../../src/line/plc-registers.js";

function fate(partId: number, o: Partial<PartFate> = {}): PartFate {
  return {
    partId,
    edgeMs: 0,
    ejectAtMs: 300,
    eject: false,
    cause: "decision",
    frameSeq: partId,
    verdict: { action: "pass", score: 0.1234, model: "m" },
    settledMs: 100,
    ...o,
  };
}

const counters = (o: Partial<LineCounters> = {}): LineCounters => ({ ...emptyLineCounters(), ...o });

const shownPart = (p: PlcRegisters) => (p.readRegister(REG.partId) << 16) | p.readRegister(REG.partId + 1);

describe("PLC registers: results handshake", () => {
  it("shows one result at a time until the PLC acknowledges it, so a slow PLC never reads one part late", () => {
    const p = new PlcRegisters(4);
    expect(p.readDiscrete(INPUT.resultsValid)).toBe(false);
    expect(p.readRegister(REG.resultCode)).toBe(RESULT_CODE.none);
    p.result(fate(1));
    p.result(fate(2, { eject: true, verdict: { action: "reject", score: 0.97, model: "m" } }));
    p.result(fate(3, { eject: true, cause: "no_decision", verdict: null }));
    expect(p.readDiscrete(INPUT.resultsValid)).toBe(true);
    expect(p.readDiscrete(INPUT.inspectionCompleted)).toBe(true);
    expect(shownPart(p)).toBe(1);
    expect(p.readRegister(REG.inspectionId + 1)).toBe(1);
    expect(p.readRegister(REG.resultCode)).toBe(RESULT_CODE.pass);
    expect(p.readRegister(REG.score)).toBe(123);
    expect(p.readDiscrete(INPUT.pass)).toBe(true);
    expect(p.readRegister(REG.resultsWaiting)).toBe(3);

    // Acknowledge: results_valid drops and stays down while the ack is held.
    p.writeCoil(COIL.resultsAck, true);
    expect(p.readDiscrete(INPUT.resultsValid)).toBe(false);
    expect(p.readRegister(REG.resultsWaiting)).toBe(2);
    p.writeCoil(COIL.resultsAck, true); // held: nothing more
    expect(p.readRegister(REG.resultsWaiting)).toBe(2);
    p.writeCoil(COIL.resultsAck, false);
    expect(p.readDiscrete(INPUT.resultsValid)).toBe(true);
    expect(p.readDiscrete(INPUT.inspectionCompleted)).toBe(false); // toggled
    expect(shownPart(p)).toBe(2);
    expect(p.readRegister(REG.resultCode)).toBe(RESULT_CODE.reject);
    expect(p.readDiscrete(INPUT.pass)).toBe(false);

    p.writeCoil(COIL.resultsAck, true);
    p.writeCoil(COIL.resultsAck, false);
    expect(shownPart(p)).toBe(3);
    expect(p.readRegister(REG.resultCode)).toBe(RESULT_CODE.failSafeReject);
    expect(p.readRegister(REG.failSafeCause)).toBe(2);
    expect(p.readRegister(REG.score)).toBe(SCORE_NONE);
    expect(p.readDiscrete(INPUT.failSafe)).toBe(true);
  });

  it("keeps the older results when the buffer is full, and flags and counts the dropped ones", () => {
    const p = new PlcRegisters(2);
    for (let i = 1; i <= 5; i++) p.result(fate(i));
    expect(p.readDiscrete(INPUT.resultsOverflow)).toBe(true);
    expect(p.readRegister(REG.resultsDropped + 1)).toBe(3);
    expect(shownPart(p)).toBe(1);
    p.writeCoil(COIL.resultsAck, true);
    expect(p.readDiscrete(INPUT.resultsOverflow)).toBe(false);
    p.writeCoil(COIL.resultsAck, false);
    expect(shownPart(p)).toBe(2);
    // The inspection id tells the PLC how many it missed.
    expect(p.readRegister(REG.inspectionId + 1)).toBe(2);
  });

  it("without a buffer shows the latest result and toggles inspection completed per result", () => {
    const p = new PlcRegisters(0);
    p.result(fate(1));
    expect(p.readDiscrete(INPUT.inspectionCompleted)).toBe(true);
    p.result(fate(2, { cause: "no_frame", eject: true, frameSeq: null, verdict: null }));
    expect(shownPart(p)).toBe(2);
    expect(p.readDiscrete(INPUT.inspectionCompleted)).toBe(false);
    expect(p.readDiscrete(INPUT.missedAcquisition)).toBe(true);
    expect(p.readRegister(REG.resultCode)).toBe(RESULT_CODE.failSafeReject);
    p.result(fate(3));
    expect(p.readDiscrete(INPUT.missedAcquisition)).toBe(false);
  });
});

describe("PLC registers: control", () => {
  it("triggers on the trigger coil's rising edge only when enabled and online, with the ack handshake", () => {
    const p = new PlcRegisters(4);
    expect(p.writeCoil(COIL.trigger, true)).toEqual([]); // trigger enable is off by default
    expect(p.readDiscrete(INPUT.triggerAck)).toBe(false);
    p.writeCoil(COIL.trigger, false);
    p.writeCoil(COIL.triggerEnable, true);
    expect(p.writeCoil(COIL.trigger, true)).toEqual([{ type: "trigger" }]);
    expect(p.readDiscrete(INPUT.triggerAck)).toBe(true);
    expect(p.writeCoil(COIL.trigger, true)).toEqual([]); // held high: one trigger
    p.writeCoil(COIL.trigger, false);
    expect(p.readDiscrete(INPUT.triggerAck)).toBe(false);
    expect(p.writeCoil(COIL.online, false)).toEqual([{ type: "online", value: false }]);
    expect(p.writeCoil(COIL.trigger, true)).toEqual([]);
    expect(p.readDiscrete(INPUT.online)).toBe(false);
  });

  it("reports status, counters as 32-bit pairs (high word first) and the model", () => {
    const p = new PlcRegisters(4);
    p.setStatus({
      ready: true,
      busy: true,
      heartbeat: true,
      heartbeats: 70_000,
      counters: counters({ parts: 70_000, ejected: 5, missed: 2, failSafe: 3 }),
    });
    expect(p.readDiscrete(INPUT.ready)).toBe(true);
    expect(p.readDiscrete(INPUT.busy)).toBe(true);
    expect(p.readDiscrete(INPUT.heartbeat)).toBe(true);
    expect([p.readRegister(REG.parts), p.readRegister(REG.parts + 1)]).toEqual([1, 70_000 - 65_536]);
    expect(p.readRegister(REG.rejects + 1)).toBe(5);
    expect(p.readRegister(REG.missed + 1)).toBe(2);
    expect(p.readRegister(REG.failSafe + 1)).toBe(3);
    expect(p.readRegister(REG.heartbeat)).toBe(70_000 & 0xffff);
    p.setModel("round-parts@1.0.0");
    const hash = p.readRegister(REG.modelHash);
    expect(hash).toBeGreaterThan(0);
    expect(String.fromCharCode(p.readRegister(REG.modelName) >> 8, p.readRegister(REG.modelName) & 0xff)).toBe("ro");
    p.setModel("round-parts@1.0.1");
    expect(p.readRegister(REG.modelHash)).not.toBe(hash);
    // Ready follows the online coil.
    p.writeCoil(COIL.online, false);
    expect(p.readDiscrete(INPUT.ready)).toBe(false);
  });

  it("answers an address outside the map with Modbus exception 2", () => {
    const p = new PlcRegisters(4);
    expect(() => p.readRegister(36)).toThrow(expect.objectContaining({ modbusErrorCode: 2 }));
    expect(() => p.readDiscrete(11)).toThrow(expect.objectContaining({ modbusErrorCode: 2 }));
    expect(() => p.writeCoil(4, true)).toThrow(expect.objectContaining({ modbusErrorCode: 2 }));
  });
});
