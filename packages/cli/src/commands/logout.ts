/**
 * `baton logout REF [--keep-remote]`: under the account lock, revokes the refresh token at the provider (RFC 7009,
 * best effort) unless --keep-remote, removes the local secrets and records the logout. Warns when sessions are active.
 */
import { Discovery, ProviderRegistry, Revocation } from "@baton/adapters";
import { accountKey, LoginRequired, record, SecretStore, Sessions, withAccountLock } from "@baton/core";
import { Effect } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { resolveAccount } from "../resolve.ts";

export const logoutCommand = Command.make(
  "logout",
  {
    ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT")),
    keepRemote: Flag.Boolean("keep-remote").pipe(
      Flag.withDescription("do not revoke the refresh token at the provider"),
      Flag.withDefault(false),
    ),
  },
  ({ ref, keepRemote }) =>
    Effect.gen(function* () {
      const account = yield* resolveAccount(ref);
      const key = accountKey(account);
      const sessions = yield* (yield* Sessions).active(account);
      if (sessions.length > 0) {
        yield* Effect.sync(() =>
          process.stderr.write(
            `warning: ${sessions.length} active session(s) use ${key} (${sessions.map((s) => `pid ${s.pid}`).join(", ")})\n`,
          ),
        );
      }
      const provider = yield* ProviderRegistry.getProvider(account.provider);
      if ((yield* (yield* SecretStore).read(account)) === undefined) {
        return yield* new LoginRequired({ account: key, reason: "no-credentials", message: `${key} is not logged in` });
      }
      yield* withAccountLock(
        account,
        Effect.gen(function* () {
          const store = yield* SecretStore;
          const current = yield* store.read(account);
          let remoteRevoked = false;
          if (!keepRemote && current?.refreshToken !== undefined) {
            const target = yield* Discovery.targetFor(provider);
            const outcome = yield* Revocation.revoke(target, current.refreshToken);
            remoteRevoked = outcome.revoked;
            if (!outcome.revoked)
              process.stderr.write(
                `warning: the provider did not confirm the revocation (${outcome.reason ?? "unknown"})\n`,
              );
          }
          yield* store.remove(account);
          yield* record(account, { type: "account.logged-out", generation: current?.generation ?? 0, remoteRevoked });
        }),
      );
      yield* Effect.sync(() => process.stderr.write(`logged out ${key}\n`));
    }),
).pipe(
  Command.withDescription("Revoke and remove an account's credentials"),
  Command.withExamples([
    { command: "baton logout github:work", description: "revoke at the provider and remove locally" },
    { command: "baton logout github:work --keep-remote", description: "remove locally only (e.g. after an export)" },
  ]),
);
