// Broker URLs may carry credentials (mqtt://user:secret@host): only the redacted form is logged.

/** The URL with its password replaced by "***"; unparsable input is not echoed at all. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparsable URL>";
  }
}
