import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { LineIo } from "../../src/line/line-io.js";
import { ModbusServer, type ModbusServerOptions } from "../../src/line/modbus-server.js";
import { monoNowMs } from "../../src/line/mono-clock.js";
import { emptyLineCounters, type PartFate } from "../../src/line/part-tracker.js";
import { COIL, INPUT, PlcRegisters, REG, RESULT_CODE } from "../../src/line/plc-registers.js";
import { SimulatedWires } from "../../src/line/simulated-wires.js";
import { mbpoll, nodeClient as nodeClientOf, writeCoil } from "../helpers/modbus.js";
import { freePort } from "../helpers/ports.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function fate(partId: number, o: Partial<PartFate> = {}): PartFate {
  return {
    partId,
    edgeMs: 0,
    ejectAtMs: 300,
    eject: true,
    cause: "decision",
    frameSeq: partId,
    verdict: { action: "reject", score: 0.875, model: "round-parts@1.0.0" },
    settledMs: 100,
    ...o,
  };
}

async function server(o: Partial<ModbusServerOptions> = {}): Promise<{ m: ModbusServer; r: PlcRegisters }> {
  const r = o.registers ?? new PlcRegisters(4);
  const m = await ModbusServer.start({
    host: "127.0.0.1",
    port: 0,
    unitId: 1,
    maxClients: 8,
    idleTimeoutS: 60,
    registers: r,
    ...o,
  });
  closers.push(() => m.close());
  return { m, r };
}

const nodeClient = (port: number) => nodeClientOf(port, (close) => closers.push(close));

describe("Modbus TCP server", () => {
  it("serves the register map to mbpoll: results, 32-bit counters high word first, the ack handshake", async () => {
    const { m, r } = await server();
    r.setStatus({
      ready: true,
      busy: false,
      heartbeat: true,
      heartbeats: 12,
      counters: { ...emptyLineCounters(), parts: 70_000, ejected: 41, missed: 2, failSafe: 3 },
    });
    r.result(fate(7));
    r.result(fate(8, { eject: false, verdict: { action: "pass", score: 0.1, model: "m" } }));

    expect(await mbpoll(m.port, ["-t", "1", "-r", "0", "-c", "11"])).toEqual([1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1]);
    expect(await mbpoll(m.port, ["-t", "3", "-r", String(REG.resultCode), "-c", "3"])).toEqual([
      RESULT_CODE.reject,
      875,
      2,
    ]);
    expect(await mbpoll(m.port, ["-t", "3:int", "-B", "-r", String(REG.partId), "-c", "2"])).toEqual([7, 1]);
    expect(await mbpoll(m.port, ["-t", "3:int", "-B", "-r", String(REG.parts), "-c", "4"])).toEqual([70_000, 41, 2, 3]);
    // The same registers as holding registers, for PLCs that read only those.
    expect(await mbpoll(m.port, ["-t", "4", "-r", String(REG.heartbeat), "-c", "1"])).toEqual([12]);

    // Acknowledge: set, then clear the ack coil; the next result is shown.
    await writeCoil(m.port, 2, 1);
    expect(r.readDiscrete(INPUT.resultsValid)).toBe(false);
    await writeCoil(m.port, 2, 0);
    expect(await mbpoll(m.port, ["-t", "3:int", "-B", "-r", String(REG.partId), "-c", "2"])).toEqual([8, 2]);
    expect(await mbpoll(m.port, ["-t", "1", "-r", String(INPUT.pass), "-c", "1"])).toEqual([1]);
  });

  it("takes the PLC's trigger from a Node client and answers outside the map with exception 2", async () => {
    const { m } = await server();
    const triggers: number[] = [];
    m.on("trigger", () => triggers.push(monoNowMs()));
    const c = await nodeClient(m.port);
    await c.writeCoil(COIL.trigger, true); // not enabled yet: ignored
    await c.writeCoil(COIL.trigger, false);
    await c.writeCoil(COIL.triggerEnable, true);
    await c.writeCoil(COIL.trigger, true);
    expect((await c.readDiscreteInputs(INPUT.triggerAck, 1)).data[0]).toBe(true);
    await c.writeCoil(COIL.trigger, false);
    expect((await c.readDiscreteInputs(INPUT.triggerAck, 1)).data[0]).toBe(false);
    expect(triggers).toHaveLength(1);
    expect((await c.readCoils(0, 4)).data.slice(0, 4)).toEqual([true, false, false, true]);
    await expect(c.readInputRegisters(30, 10)).rejects.toMatchObject({ modbusCode: 2 });
    await expect(c.writeRegister(0, 5)).rejects.toMatchObject({ modbusCode: 2 });
    await expect(c.readHoldingRegisters(0, 125)).rejects.toMatchObject({ modbusCode: 2 });
    // Still serving after the exceptions.
    expect((await c.readInputRegisters(REG.resultCode, 1)).data).toEqual([0]);
  });

  it("survives garbage bytes and malformed requests, and keeps serving good clients", async () => {
    const { m, r } = await server();
    r.result(fate(3));
    const junk: Buffer[] = [];
    for (let i = 0; i < 200; i++) junk.push(randomBytes(1 + ((i * 7919) % 300)));
    // Well-framed requests with bad contents: short PDUs, unknown function codes, huge counts.
    for (const pdu of [
      [1],
      [1, 1],
      [1, 3, 0],
      [1, 15, 0, 0],
      [1, 16, 0, 0, 0, 9, 1],
      [1, 99, 1, 2],
      [1, 3, 0, 0, 255, 255],
      [1, 1, 0, 0, 255, 255],
      [1, 43, 14, 1, 0],
    ])
      junk.push(Buffer.concat([Buffer.from([0, 1, 0, 0, 0, pdu.length]), Buffer.from(pdu)]));
    junk.push(Buffer.from([0, 1, 0, 0, 255, 255, 1, 3])); // a length it will never get
    for (const bytes of junk) {
      const s = connect(m.port, "127.0.0.1");
      s.on("error", () => {});
      s.write(bytes);
      s.on("data", () => {});
      await sleep(1);
      s.destroy();
    }
    await sleep(200);
    const c = await nodeClient(m.port);
    expect((await c.readInputRegisters(REG.partId, 2)).data).toEqual([0, 3]);
    expect(await mbpoll(m.port, ["-t", "3", "-r", String(REG.resultCode), "-c", "1"])).toEqual([RESULT_CODE.reject]);
  });

  it("drops a client that connects and never sends", async () => {
    const { m } = await server({ idleTimeoutS: 0.5 });
    const silent: Socket = connect(m.port, "127.0.0.1");
    silent.on("error", () => {});
    closers.push(async () => silent.destroy());
    const closed = new Promise((resolve) => silent.on("close", resolve));
    await closed;
    expect(m.stats().droppedIdle).toBe(1);
    // Others are still served.
    const c = await nodeClient(m.port);
    expect((await c.readInputRegisters(REG.resultCode, 1)).data).toEqual([0]);
  });

  it("refuses clients beyond max_clients and serves those it has", async () => {
    const { m } = await server({ maxClients: 2 });
    const a = await nodeClient(m.port);
    const b = await nodeClient(m.port);
    for (let i = 0; i < 200 && m.clients < 2; i++) await sleep(5);
    const third = connect(m.port, "127.0.0.1");
    third.on("error", () => {});
    closers.push(async () => third.destroy());
    await new Promise((resolve) => third.on("close", resolve));
    expect(m.stats().refused).toBe(1);
    expect((await a.readInputRegisters(REG.resultCode, 1)).data).toEqual([0]);
    expect((await b.readInputRegisters(REG.resultCode, 1)).data).toEqual([0]);
  });

  it("serves 50 clients at once while the line keeps every part's fate and pulse", async () => {
    const registers = new PlcRegisters(4);
    const { m } = await server({ registers, maxClients: 64 });
    const wires = new SimulatedWires();
    const line = await LineIo.start({
      tracker: {
        mode: "free_run",
        debounceMs: 5,
        captureDelayMs: 0,
        ejectDelayMs: 100,
        failSafe: "reject",
        commitLeadMs: 1,
      },
      triggerEdge: "rising",
      pulseMs: 10,
      heartbeatMs: 50,
      outputs: { reject: { activeLow: false }, ready: null, heartbeat: null },
      backend: { kind: "simulated", wires },
    });
    closers.push(() => line.stop());
    line.on("fate", (f) => registers.result(f));
    const clients = await Promise.all(Array.from({ length: 50 }, () => nodeClient(m.port)));
    for (let i = 0; i < 200 && m.clients < 50; i++) await sleep(5); // the server accepts after the clients see "connected"
    expect(m.clients).toBe(50);
    let reads = 0;
    const polling = Promise.all(
      clients.map(async (c) => {
        for (let i = 0; i < 20; i++) {
          await c.readInputRegisters(0, 20);
          reads++;
        }
      }),
    );
    const { performance } = await import("node:perf_hooks");
    for (let i = 0; i < 40; i++) {
      line.decision(i + 1, { action: i % 2 ? "reject" : "pass", score: 0.5, model: "m" }, performance.now());
      await sleep(10);
    }
    await polling;
    await sleep(200);
    expect(reads).toBe(1000);
    expect(line.stats().counters).toMatchObject({ parts: 40, ejected: 20, passed: 20, failSafe: 0 });
    // Every rejected part's pulse was driven (a late one may have merged into the one before).
    expect(line.stats().rejectsFired).toBe(20);
    expect(wires.pulses("reject").length + line.stats().pulsesMerged).toBe(20);
  });

  it("says which key to change when the port is taken", async () => {
    const port = await freePort();
    const { m } = await server({ port });
    expect(m.port).toBe(port);
    await expect(server({ port })).rejects.toThrow(/port \d+ is in use: set line\.modbus\.port/);
  });
});
