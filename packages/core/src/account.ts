/**
 * Account references. An account is named `PROVIDER:ACCOUNT` (e.g. `github:work`); a bare `PROVIDER` means that
 * provider's default account, resolved by the caller. Names are restricted to a safe alphabet because they become
 * file names, keychain item names and log fields.
 */
import { Data, Effect } from "effect";
import { isValidName } from "./account-name.ts";

export { isValidName } from "./account-name.ts";

/** A fully resolved account: both parts present. */
export interface AccountRef {
  readonly provider: string;
  readonly account: string;
}

/** What a user typed: the account part may be missing (the provider's default account). */
export interface AccountInput {
  readonly provider: string;
  readonly account: string | undefined;
}

/** A reference that cannot name an account. */
export class InvalidAccountRef extends Data.TaggedError("InvalidAccountRef")<{
  readonly input: string;
  readonly message: string;
}> {}

/** Parses `PROVIDER` or `PROVIDER:ACCOUNT`. */
export const parseAccountInput = (input: string): Effect.Effect<AccountInput, InvalidAccountRef> => {
  const parts = input.split(":");
  const provider = parts[0] ?? "";
  const account = parts.length > 1 ? parts.slice(1).join(":") : undefined;
  if (parts.length > 2) {
    return Effect.fail(new InvalidAccountRef({ input, message: `"${input}" has more than one ":"` }));
  }
  if (!isValidName(provider)) {
    return Effect.fail(
      new InvalidAccountRef({
        input,
        message: `"${provider}" is not a valid provider name (letters, digits, ".", "_", "-"; at most 64)`,
      }),
    );
  }
  if (account !== undefined && !isValidName(account)) {
    return Effect.fail(
      new InvalidAccountRef({
        input,
        message: `"${account}" is not a valid account name (letters, digits, ".", "_", "-"; at most 64)`,
      }),
    );
  }
  return Effect.succeed({ provider, account });
};

/** The canonical key of an account, `provider:account`, used in maps, file names and events. */
export const accountKey = (ref: AccountRef): string => `${ref.provider}:${ref.account}`;

/** The inverse of {@link accountKey} for keys this module produced. */
export const accountFromKey = (key: string): AccountRef => {
  const index = key.indexOf(":");
  return { provider: key.slice(0, index), account: key.slice(index + 1) };
};
