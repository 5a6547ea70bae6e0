/**
 * The rule for provider and account names: letters, digits, `.`, `_` and `-`, starting with a letter or digit, at
 * most 64 characters. Names become file names, keychain item names and log fields, so this one rule guards all of
 * them. It has no dependencies, so start-up-critical code (the `baton token` fast path) can import it alone as
 * `@baton/core/account-name`.
 */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Whether a provider or account name is acceptable (letters, digits, `.`, `_`, `-`; at most 64). */
export const isValidName = (name: string): boolean => NAME.test(name);
