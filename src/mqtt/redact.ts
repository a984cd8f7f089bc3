// Broker URLs may carry credentials (mqtt://user:secret@host): only the redacted form is logged.
// The rule itself lives in config/redact.ts, shared by everything that shows config or commands.
export { redactUrl } from "../config/redact.js";
