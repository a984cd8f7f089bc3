// The simulated line's side inside the output worker: input edges arrive on a MessagePort from
// the simulator (stamped with the time they "happened"), and every output write is sent back with
// the time it was made. Above this, the worker runs exactly the code that drives real GPIO.
import { type MessagePort, receiveMessageOnPort } from "node:worker_threads";
import { type LineBackend, type LineEdge, LineSetupError, type OutputLine } from "./backend.js";
import { monoNowMs } from "./mono-clock.js";

export interface SimulatedWrite {
  type: "write";
  line: OutputLine;
  level: boolean;
  timeMs: number;
}

export type SimulatedEdgeMessage = { type: "edge" } & LineEdge;

export class SimulatedBackend implements LineBackend {
  constructor(
    private readonly port: MessagePort,
    private readonly failOpen: string | null,
  ) {}

  open(): void {
    if (this.failOpen) throw new LineSetupError(this.failOpen);
  }

  write(line: OutputLine, level: boolean): void {
    const message: SimulatedWrite = { type: "write", line, level, timeMs: monoNowMs() };
    this.port.postMessage(message);
  }

  readEdges(): LineEdge[] {
    const edges: LineEdge[] = [];
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
      const e = m.message as SimulatedEdgeMessage;
      if (e.type === "edge") edges.push({ line: e.line, rising: e.rising, timeMs: e.timeMs });
    }
    return edges;
  }

  wait(timeoutMs: number, wake: Int32Array): void {
    Atomics.wait(wake, 0, 0, timeoutMs);
  }

  close(): void {
    this.port.close();
  }
}
