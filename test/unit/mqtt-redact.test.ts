import { describe, expect, it } from "vitest";
import { redactUrl } from "../../src/mqtt/redact.js";

describe("redactUrl", () => {
  it("hides the password and keeps the rest", () => {
    const r = redactUrl("mqtt://ops:s3cret@broker.local:1883");
    expect(r).not.toContain("s3cret");
    expect(r).toBe("mqtt://ops:***@broker.local:1883");
  });

  it("leaves URLs without credentials alone", () => {
    expect(redactUrl("mqtt://broker.local:1883")).toBe("mqtt://broker.local:1883");
  });

  it("does not echo unparsable input, which might be a secret", () => {
    expect(redactUrl("not a url s3cret")).not.toContain("s3cret");
  });
});
