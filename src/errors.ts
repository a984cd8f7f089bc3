/**
 * An error the user can fix (bad config, refused model, unwritable database): shown as its
 * message alone, without a stack trace. Anything else is a bug and gets the stack.
 */
export class UserFacingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
