// What the PLC sees over Modbus, pure: control coils it writes, status bits and registers it
// reads, and a results buffer behind a valid/acknowledge handshake, in the style of the vision
// sensors PLC programmers know. Addresses are 0-based (PLC tools often show them +1, e.g. 00001,
// 10001, 30001). The map is documented in docs/line-io.md; keep the two in step.
import type { FailSafeCause, LineCounters, PartFate } from "./part-tracker.js";

export const COIL = { triggerEnable: 0, trigger: 1, resultsAck: 2, online: 3 } as const;
export const COIL_COUNT = 4;

export const INPUT = {
  ready: 0,
  busy: 1,
  triggerAck: 2,
  missedAcquisition: 3,
  resultsValid: 4,
  inspectionCompleted: 5,
  pass: 6,
  resultsOverflow: 7,
  online: 8,
  failSafe: 9,
  heartbeat: 10,
} as const;
export const INPUT_COUNT = 11;

/** Input registers (also readable as holding registers at the same addresses). */
export const REG = {
  partId: 0, // u32, 0-1
  inspectionId: 2, // u32, 2-3
  resultCode: 4,
  score: 5,
  resultsWaiting: 6,
  failSafeCause: 7,
  parts: 8, // u32, 8-9
  rejects: 10, // u32, 10-11
  missed: 12, // u32, 12-13
  failSafe: 14, // u32, 14-15
  modelHash: 16,
  heartbeat: 17,
  resultsDropped: 18, // u32, 18-19
  modelName: 20, // 16 registers, 20-35: ASCII, 2 characters per register, high byte first
} as const;
export const REGISTER_COUNT = 36;
const MODEL_NAME_REGISTERS = 16;

export const RESULT_CODE = { none: 0, pass: 1, reject: 2, failSafeReject: 3, failSafePass: 4 } as const;
export const FAIL_SAFE_CODE: Record<FailSafeCause, number> = { no_frame: 1, no_decision: 2, failed: 3, paused: 4 };
export const SCORE_NONE = 0xffff;

/** A Modbus exception: the server answers it with this code. */
export class ModbusException extends Error {
  constructor(
    readonly modbusErrorCode: number,
    message: string,
  ) {
    super(message);
  }
}
// One instance, thrown for every address outside the map: a request for 65535 registers must
// not cost 65535 stack traces on the main thread.
const ILLEGAL_ADDRESS = new ModbusException(0x02, "no such address: see docs/line-io.md for the register map");
const illegalAddress = (_what: string, _addr: number) => ILLEGAL_ADDRESS;

export interface PlcResult {
  partId: number;
  inspectionId: number;
  resultCode: number;
  score: number;
  failSafeCause: number;
  pass: boolean;
}

export interface PlcStatus {
  ready: boolean;
  busy: boolean;
  heartbeat: boolean;
  heartbeats: number;
  counters: LineCounters;
}

/** What a coil write asks the line to do. */
export type CoilEffect = { type: "trigger" } | { type: "online"; value: boolean };

export class PlcRegisters {
  private readonly coils = [false, false, false, true];
  private readonly buffer: PlcResult[] = [];
  private shown: PlcResult | null = null;
  private valid = false;
  private completed = false;
  private overflow = false;
  private dropped = 0;
  private triggerAck = false;
  private missed = false;
  private inspections = 0;
  private status: PlcStatus | null = null;
  private modelHash = 0;
  private modelName: number[] = new Array(MODEL_NAME_REGISTERS).fill(0);

  /** `bufferSize` 0: no handshake, the registers show the latest result. */
  constructor(private readonly bufferSize: number) {}

  get online(): boolean {
    return this.coils[COIL.online] as boolean;
  }

  get triggerEnabled(): boolean {
    return this.coils[COIL.triggerEnable] as boolean;
  }

  readCoil(addr: number): boolean {
    const v = this.coils[addr];
    if (v === undefined) throw illegalAddress("coil", addr);
    return v;
  }

  /** A coil write from the PLC; returns what the line should do. */
  writeCoil(addr: number, value: boolean): CoilEffect[] {
    const was = this.readCoil(addr);
    this.coils[addr] = value;
    const effects: CoilEffect[] = [];
    if (addr === COIL.trigger) {
      if (value && !was && this.triggerEnabled && this.online) {
        this.triggerAck = true;
        effects.push({ type: "trigger" });
      }
      if (!value) this.triggerAck = false;
    } else if (addr === COIL.resultsAck) {
      if (value && !was && this.valid && this.bufferSize > 0) {
        this.buffer.shift();
        this.valid = false;
        this.overflow = false;
        this.missed = false;
      }
      this.present();
    } else if (addr === COIL.online && value !== was) {
      effects.push({ type: "online", value });
    }
    return effects;
  }

  readDiscrete(addr: number): boolean {
    const s = this.status;
    switch (addr) {
      case INPUT.ready:
        return (s?.ready ?? false) && this.online;
      case INPUT.busy:
        return s?.busy ?? false;
      case INPUT.triggerAck:
        return this.triggerAck;
      case INPUT.missedAcquisition:
        return this.missed;
      case INPUT.resultsValid:
        return this.valid;
      case INPUT.inspectionCompleted:
        return this.completed;
      case INPUT.pass:
        return this.valid ? (this.shown?.pass ?? false) : false;
      case INPUT.resultsOverflow:
        return this.overflow;
      case INPUT.online:
        return this.online;
      case INPUT.failSafe:
        return this.valid ? (this.shown?.failSafeCause ?? 0) !== 0 : false;
      case INPUT.heartbeat:
        return s?.heartbeat ?? false;
      default:
        throw illegalAddress("discrete input", addr);
    }
  }

  readRegister(addr: number): number {
    const r = this.shown;
    const c = this.status?.counters;
    const hi = (x: number) => Math.floor(x / 0x10000) & 0xffff;
    const lo = (x: number) => x & 0xffff;
    const u32 = (base: number, x: number) => (addr === base ? hi(x) : lo(x));
    if (addr >= REG.modelName && addr < REG.modelName + MODEL_NAME_REGISTERS)
      return this.modelName[addr - REG.modelName] as number;
    switch (addr) {
      case REG.partId:
      case REG.partId + 1:
        return u32(REG.partId, r?.partId ?? 0);
      case REG.inspectionId:
      case REG.inspectionId + 1:
        return u32(REG.inspectionId, r?.inspectionId ?? 0);
      case REG.resultCode:
        return r?.resultCode ?? RESULT_CODE.none;
      case REG.score:
        return r?.score ?? SCORE_NONE;
      case REG.resultsWaiting:
        return this.bufferSize > 0 ? this.buffer.length : r ? 1 : 0;
      case REG.failSafeCause:
        return r?.failSafeCause ?? 0;
      case REG.parts:
      case REG.parts + 1:
        return u32(REG.parts, c?.parts ?? 0);
      case REG.rejects:
      case REG.rejects + 1:
        return u32(REG.rejects, c?.ejected ?? 0);
      case REG.missed:
      case REG.missed + 1:
        return u32(REG.missed, c?.missed ?? 0);
      case REG.failSafe:
      case REG.failSafe + 1:
        return u32(REG.failSafe, c?.failSafe ?? 0);
      case REG.modelHash:
        return this.modelHash;
      case REG.heartbeat:
        return (this.status?.heartbeats ?? 0) & 0xffff;
      case REG.resultsDropped:
      case REG.resultsDropped + 1:
        return u32(REG.resultsDropped, this.dropped);
      default:
        throw illegalAddress("register", addr);
    }
  }

  /** A part's fate: queued for the PLC (or shown at once without a buffer). */
  result(fate: PartFate): void {
    this.inspections = (this.inspections % 0xffffffff) + 1;
    const failSafeCause = fate.cause === "decision" ? 0 : FAIL_SAFE_CODE[fate.cause];
    const resultCode =
      fate.cause === "decision"
        ? fate.eject
          ? RESULT_CODE.reject
          : RESULT_CODE.pass
        : fate.eject
          ? RESULT_CODE.failSafeReject
          : RESULT_CODE.failSafePass;
    const score = fate.cause === "decision" && fate.verdict?.score != null ? fate.verdict.score : null;
    const r: PlcResult = {
      partId: fate.partId,
      inspectionId: this.inspections,
      resultCode,
      score: score === null ? SCORE_NONE : Math.max(0, Math.min(1000, Math.round(score * 1000))),
      failSafeCause,
      pass: !fate.eject,
    };
    if (fate.cause === "no_frame") this.missed = true;
    if (this.bufferSize === 0) {
      this.shown = r;
      this.valid = true;
      this.completed = !this.completed;
      if (fate.cause === "decision") this.missed = false;
      return;
    }
    if (this.buffer.length >= this.bufferSize) {
      // Full: the PLC is not acknowledging. Keep the older results (their order matters); count.
      this.overflow = true;
      this.dropped++;
      return;
    }
    this.buffer.push(r);
    this.present();
  }

  setStatus(status: PlcStatus): void {
    this.status = status;
  }

  /** The model that decides: a 16-bit hash (changes with the model) and its name in ASCII. */
  setModel(identity: string): void {
    let h = 0x811c9dc5;
    for (let i = 0; i < identity.length; i++) {
      h ^= identity.charCodeAt(i) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    this.modelHash = ((h >>> 16) ^ h) & 0xffff;
    const bytes = Buffer.from(identity, "latin1").subarray(0, MODEL_NAME_REGISTERS * 2);
    this.modelName = Array.from(
      { length: MODEL_NAME_REGISTERS },
      (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0),
    );
  }

  /** Shows the next buffered result once the PLC has released the acknowledge. */
  private present(): void {
    if (this.bufferSize === 0 || this.valid || this.coils[COIL.resultsAck]) return;
    const next = this.buffer[0];
    if (!next) return;
    this.shown = next;
    this.valid = true;
    this.completed = !this.completed;
  }
}
