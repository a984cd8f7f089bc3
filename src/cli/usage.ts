/** A mistake in how a command was called: printed without a stack trace, exit code 2. */
import { UserFacingError } from "../errors.js";

export class UsageError extends UserFacingError {}
