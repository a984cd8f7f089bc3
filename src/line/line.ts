// The line as the daemon starts it from `line:`: the output worker (LineIo), and with
// `modbus.enabled` the PLC's registers and Modbus server, wired together: every fate goes to the
// PLC's results, the PLC's trigger coil triggers a part, the status bits follow the outputs.
import type { Logger } from "pino";
import type { LineConfig } from "../config/schema.js";
import { LineSetupError } from "./backend.js";
import { gpioSetup } from "./gpio-lines.js";
import { LineIo, type LineIoOptions } from "./line-io.js";
import { ModbusServer } from "./modbus-server.js";
import { PlcRegisters } from "./plc-registers.js";
import type { SimulatedWires } from "./simulated-wires.js";

/** The deadline's lead on the eject time: the output thread's time to commit and write. */
export const COMMIT_LEAD_MS = 1;

/** LineIo's options from the `line:` section (pure). `wires` for backend: simulated. */
export function lineIoOptions(c: LineConfig, wires: SimulatedWires | null, logger?: Logger): LineIoOptions {
  if (c.backend === "simulated" && !wires)
    throw new LineSetupError("line.backend simulated needs the simulated line (--simulate-line)");
  const out = (o: { line: string | number | null; active_low: boolean }, wired: boolean) =>
    wired ? { activeLow: o.active_low } : null;
  // On the simulated line every output exists; on GPIO only those with a line.
  const sim = c.backend === "simulated";
  return {
    tracker: {
      mode: c.trigger.source === "none" ? "free_run" : "trigger",
      debounceMs: c.trigger.debounce_ms,
      captureDelayMs: c.trigger.capture_delay_ms,
      ejectDelayMs: c.reject.delay_ms,
      failSafe: c.fail_safe,
      commitLeadMs: COMMIT_LEAD_MS,
    },
    triggerEdge: c.trigger.edge,
    pulseMs: c.reject.pulse_ms,
    heartbeatMs: c.heartbeat.period_ms,
    outputs: {
      reject: out(c.reject, sim || c.reject.line !== null),
      ready: out(c.ready, sim || c.ready.line !== null),
      heartbeat: out(c.heartbeat, sim || c.heartbeat.line !== null),
    },
    backend: sim && wires ? { kind: "simulated", wires } : { kind: "gpio", gpio: gpioSetup(c) },
    priority: c.output_priority,
    ...(logger ? { logger } : {}),
  };
}

export class Line {
  private constructor(
    readonly io: LineIo,
    readonly registers: PlcRegisters | null,
    readonly modbus: ModbusServer | null,
  ) {}

  /** Starts the output worker and, if enabled, the Modbus server; throws with the key to fix. */
  static async start(c: LineConfig, opts: { wires: SimulatedWires | null; logger?: Logger }): Promise<Line> {
    const io = await LineIo.start(lineIoOptions(c, opts.wires, opts.logger));
    if (!c.modbus.enabled) return new Line(io, null, null);
    const registers = new PlcRegisters(c.modbus.results_buffer);
    let modbus: ModbusServer;
    try {
      modbus = await ModbusServer.start({
        host: c.modbus.host,
        port: c.modbus.port,
        unitId: c.modbus.unit_id,
        maxClients: c.modbus.max_clients,
        idleTimeoutS: c.modbus.idle_timeout_s,
        registers,
        ...(opts.logger ? { logger: opts.logger } : {}),
      });
    } catch (err) {
      await io.stop();
      throw err;
    }
    const status = () => {
      const s = io.stats();
      registers.setStatus({
        ready: s.outputs.ready,
        busy: s.inFlight > 0,
        heartbeat: s.outputs.heartbeat,
        heartbeats: s.outputs.heartbeats,
        counters: s.counters,
      });
    };
    io.on("fate", (fate) => {
      if (fate.verdict?.model) registers.setModel(fate.verdict.model);
      status();
      registers.result(fate);
    });
    io.on("part", status);
    io.on("outputs", status);
    if (c.trigger.source === "modbus") modbus.on("trigger", () => io.trigger());
    return new Line(io, registers, modbus);
  }

  async stop(): Promise<void> {
    await this.modbus?.close();
    await this.io.stop();
  }
}
