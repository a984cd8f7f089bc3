// A throwaway PKI made with the real openssl CLI: a CA, a broker certificate for 127.0.0.1 and
// localhost, a client certificate, and a second ("rogue") CA with a client certificate of its own.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  rogueCa: string;
  rogueClientCert: string;
  rogueClientKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    "req",
    "-x509",
    ...EC,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
  ]);
}

function issue(dir: string, ca: string, name: string, cn: string, ext: string): void {
  openssl(dir, ["req", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
  writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  ]);
}

export function makePki(dir: string): Pki {
  makeCa(dir, "ca");
  makeCa(dir, "rogue-ca");
  issue(dir, "ca", "server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1");
  issue(dir, "ca", "client", "linesight-device", "extendedKeyUsage=clientAuth");
  issue(dir, "rogue-ca", "rogue-client", "linesight-device", "extendedKeyUsage=clientAuth");
  const f = (n: string) => join(dir, n);
  return {
    dir,
    ca: f("ca.crt"),
    serverCert: f("server.crt"),
    serverKey: f("server.key"),
    clientCert: f("client.crt"),
    clientKey: f("client.key"),
    rogueCa: f("rogue-ca.crt"),
    rogueClientCert: f("rogue-client.crt"),
    rogueClientKey: f("rogue-client.key"),
  };
}
