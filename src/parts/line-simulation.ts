// The simulated line in the daemon (line.backend: simulated, docs/line-io.md#the-simulated-line):
// the wires the output thread drives, and with trigger.source gpio the conveyor that raises the
// photo-eye's edges and the triggered camera that takes each part's picture. With
// line.simulation.gpio_sim the output thread drives a gpio-sim chip through the real GPIO backend
// and the conveyor acts on that chip instead. Started after the camera, stopped before it.
import type { Logger } from "pino";
import { TriggeredReplaySource } from "../camera/triggered-replay-source.js";
import type { Config } from "../config/schema.js";
import { UserFacingError } from "../errors.js";
import { SimulatedWires } from "../line/simulated-wires.js";
import type { ConveyorWires } from "../simulate/conveyor-wires.js";
import { GpioSimWires } from "../simulate/gpio-sim-wires.js";
import { LineSimulator } from "../simulate/line-simulator.js";
import type { LineControl } from "./line-control.js";
import type { Part } from "./part.js";

export interface LineRig {
  /** The output thread's simulated wires (backend simulated). */
  wires: SimulatedWires | null;
  /** The triggered camera, in place of camera.source, when the simulator triggers the parts. */
  camera: TriggeredReplaySource | null;
}

export function lineRig(config: Config): LineRig {
  const l = config.line;
  const simulated = l.backend === "simulated";
  if (!l.enabled || !(simulated || l.simulation.gpio_sim)) return { wires: null, camera: null };
  const conveyor = l.trigger.source === "gpio";
  if (conveyor && config.camera.source !== "replay")
    throw new UserFacingError(
      "the simulated line (line.backend simulated or line.simulation.gpio_sim, trigger.source gpio) shows camera.replay.path's footage through a triggered camera: set camera.source: replay",
    );
  return {
    wires: simulated ? new SimulatedWires() : null,
    camera: conveyor ? new TriggeredReplaySource(config.camera.replay.path) : null,
  };
}

export function lineSimulation(o: {
  rig: LineRig;
  control: LineControl;
  config: Config["line"];
  goodLabel: string;
  logger: Logger;
}): Part {
  let sim: LineSimulator | null = null;
  let gpioSim: GpioSimWires | null = null;
  return {
    name: "line-simulation",
    async start() {
      const { camera } = o.rig;
      if (!camera) return; // PLC-triggered or free-run: the wires only record what the outputs do
      // The line is up (started before this part), so the chip's lines are known to be there.
      let wires: ConveyorWires | null = o.rig.wires;
      if (!wires) wires = gpioSim = await GpioSimWires.open(o.config, o.logger);
      const s = new LineSimulator(o.config, wires, camera, o.goodLabel, o.logger, () => o.control.line?.io.stats());
      sim = s;
      o.control.onFate = (f) => s.fate(f);
      o.control.simulation = () => s.summary();
      s.start();
    },
    async stop() {
      // The parts on the belt are still inspected and ejected (the camera stops after this).
      if (sim) o.logger.info({ account: await sim.finish() }, "simulated line: account");
      o.rig.wires?.close();
      await gpioSim?.close();
    },
  };
}
