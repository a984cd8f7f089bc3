// A gpio-sim chip made through configfs (the kernel's GPIO simulator): one bank labelled `label`
// with lines named `names`, live. For the scripts run inside the gpio-sim VM.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";

/** The chip's /dev name and its lines' sysfs attributes: sim(i, "pull" | "value"). */
export function createSimChip(dir, label, names) {
  const cfs = `/sys/kernel/config/gpio-sim/${dir}`;
  mkdirSync(`${cfs}/bank0`, { recursive: true });
  writeFileSync(`${cfs}/bank0/label`, label);
  writeFileSync(`${cfs}/bank0/num_lines`, String(names.length));
  names.forEach((n, i) => {
    mkdirSync(`${cfs}/bank0/line${i}`);
    writeFileSync(`${cfs}/bank0/line${i}/name`, n);
  });
  writeFileSync(`${cfs}/live`, "1");
  const dev = readFileSync(`${cfs}/dev_name`, "utf8").trim();
  const chipName = readFileSync(`${cfs}/bank0/chip_name`, "utf8").trim();
  return {
    chipName,
    path: `/dev/${chipName}`,
    sim: (i, attr) => `/sys/devices/platform/${dev}/${chipName}/sim_gpio${i}/${attr}`,
  };
}
