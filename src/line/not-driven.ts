// Until the GPIO character-device backend exists (docs/line-io.md#not-built-yet), `line.backend:
// gpio` is refused by `run` and `check` alike: better no start than a reject output silently undriven.
export const LINE_GPIO_NOT_BUILT =
  "line.backend is gpio, but this version of the daemon has no GPIO backend yet: use line.backend: simulated " +
  "(the simulated line, --simulate-line), or set line.enabled: false and reject parts from the MQTT decisions meanwhile";
