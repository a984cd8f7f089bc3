// Until the daemon drives line I/O (docs/line-io.md#not-built-yet), `line.enabled: true` is
// refused by `run` and `check` alike: better no start than a reject output silently undriven.
export const LINE_NOT_DRIVEN =
  "line.enabled is true, but this version of the daemon does not drive line I/O yet (trigger, reject " +
  "output, Modbus): set line.enabled: false, or reject parts from the MQTT decisions meanwhile";
