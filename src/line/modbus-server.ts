// The PLC's Modbus TCP server: modbus-serial's ServerTCP (pure JS) over PlcRegisters. A bad
// client must never disturb inspection: every socket has an error handler, connections beyond
// max_clients are refused, a silent client is dropped after idle_timeout_s, and addresses outside
// the map get exception 2 without allocating.
import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import type { Server, Socket } from "node:net";
import type { Logger } from "pino";
import { type CoilEffect, ModbusException, type PlcRegisters } from "./plc-registers.js";

interface Vector {
  getCoil(addr: number, unitId: number): boolean;
  getDiscreteInput(addr: number, unitId: number): boolean;
  getInputRegister(addr: number, unitId: number): number;
  getHoldingRegister(addr: number, unitId: number): number;
  setCoil(addr: number, value: boolean, unitId: number): void;
  setRegister(addr: number, value: number, unitId: number): void;
}

interface ServerTcp extends EventEmitter {
  _server: Server;
  socks: Map<Socket, unknown>;
  close(cb: (err?: Error) => void): void;
}

type ServerTcpClass = new (
  vector: Vector,
  options: { host: string; port: number; unitID: number; debug?: boolean },
) => ServerTcp;

// The server module alone: the package's index would also load the optional serial-port binding.
const ServerTCP = createRequire(import.meta.url)("modbus-serial/servers/servertcp.js") as ServerTcpClass;

export interface ModbusServerOptions {
  host: string;
  /** 0: any free port (tests). */
  port: number;
  /** 1-247; 255 answers any unit id. */
  unitId: number;
  maxClients: number;
  /** 0: never drop a silent client. */
  idleTimeoutS: number;
  registers: PlcRegisters;
  logger?: Logger;
}

export interface ModbusServerEvents {
  /** The PLC's software trigger (coil 1 rising, trigger enabled, online). */
  trigger: [];
  /** The PLC set the online coil. */
  online: [boolean];
}

const READ_ONLY = new ModbusException(0x02, "the registers are read-only: the PLC writes coils");

export class ModbusServer extends EventEmitter<ModbusServerEvents> {
  private refused = 0;
  private dropped = 0;

  private constructor(
    private readonly server: ServerTcp,
    readonly port: number,
  ) {
    super();
  }

  /** Listening; throws an error naming line.modbus.port/host when it cannot be. */
  static start(o: ModbusServerOptions): Promise<ModbusServer> {
    const r = o.registers;
    let self: ModbusServer | null = null;
    const apply = (effects: CoilEffect[]) => {
      for (const e of effects) {
        if (e.type === "trigger") self?.emit("trigger");
        else self?.emit("online", e.value);
      }
    };
    const vector: Vector = {
      getCoil: (addr) => r.readCoil(addr),
      getDiscreteInput: (addr) => r.readDiscrete(addr),
      getInputRegister: (addr) => r.readRegister(addr),
      getHoldingRegister: (addr) => r.readRegister(addr),
      setCoil: (addr, value) => apply(r.writeCoil(addr, value)),
      setRegister: () => {
        throw READ_ONLY;
      },
    };
    const server = new ServerTCP(vector, { host: o.host, port: o.port, unitID: o.unitId });
    const net = server._server;
    net.maxConnections = o.maxClients;
    return new Promise((resolve, reject) => {
      const onStartError = (err: NodeJS.ErrnoException) => {
        const why =
          err.code === "EADDRINUSE"
            ? `port ${o.port} is in use: set line.modbus.port to a free port`
            : err.code === "EACCES"
              ? `port ${o.port} needs privileges: use a port above 1023 (default 5020) or give the service CAP_NET_BIND_SERVICE (docs/line-io.md)`
              : err.code === "EADDRNOTAVAIL"
                ? `no interface has the address ${o.host}: check line.modbus.host`
                : err.message;
        server.removeAllListeners();
        net.close();
        reject(new Error(`Modbus server on ${o.host}:${o.port}: ${why}`));
      };
      server.once("serverError", onStartError);
      server.once("initialized", () => {
        server.off("serverError", onStartError);
        const address = net.address();
        const m = new ModbusServer(server, typeof address === "object" && address ? address.port : o.port);
        self = m;
        server.on("serverError", (err: Error) => o.logger?.error({ err }, "Modbus server error"));
        // One client's broken connection is that client's business: noted, never thrown.
        server.on("socketError", (err: Error) => o.logger?.debug({ err: err.message }, "Modbus client socket error"));
        server.on("error", (err: Error) => o.logger?.debug({ err: err?.message }, "Modbus reply failed"));
        net.on("drop", () => {
          m.refused++;
          o.logger?.warn({ max_clients: o.maxClients }, "Modbus client refused: line.modbus.max_clients reached");
        });
        net.on("connection", (sock: Socket) => {
          sock.on("error", () => {}); // also reported as socketError above
          if (o.idleTimeoutS > 0)
            sock.setTimeout(o.idleTimeoutS * 1000, () => {
              m.dropped++;
              o.logger?.info({ client: sock.remoteAddress }, "Modbus client silent too long: disconnected");
              sock.destroy();
            });
        });
        resolve(m);
      });
    });
  }

  /** Connected clients now. */
  get clients(): number {
    return this.server.socks.size;
  }

  stats(): { clients: number; refused: number; droppedIdle: number } {
    return { clients: this.clients, refused: this.refused, droppedIdle: this.dropped };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
