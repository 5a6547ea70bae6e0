/**
 * `baton export REF [--out FILE] [--force] [--move]`: the account's current credentials, encrypted (export-format.ts),
 * read under the account lock so that no refresh is half-way. The file is created 0600 with O_EXCL (an existing file
 * is refused unless --force, which replaces it atomically); without --out the export goes to stdout, with a warning on
 * stderr. The copy shares ONE token family with the original (where the provider rotates refresh tokens, whichever
 * side refreshes first leaves the other with a used token), which the command says plainly; `--move` hands the login
 * over instead: the file is written and synced, then the local credentials are removed, all under the lock. Either
 * way an `account.exported` event records it. The passphrase comes from BATON_PASSPHRASE or a no-echo prompt on the terminal (asked twice), never from
 * the command line; with neither available the command refuses (exit 2). Also home of {@link readPassphrase}, which
 * `baton import` shares.
 */
import { openSync } from "node:fs";
import { lstat, rename, unlink } from "node:fs/promises";
import { ReadStream } from "node:tty";
import { ProviderRegistry, SecureFiles } from "@baton/adapters";
import {
  type AccountRef,
  accountKey,
  describeCredentials,
  InvalidInput,
  LoginRequired,
  Retryable,
  record,
  SecretStore,
  type StoreFailure,
  withAccountLock,
} from "@baton/core";
import { Clock, Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { EXPORT_VERSION, seal } from "../export-format.ts";
import { absoluteTime } from "../format.ts";
import { resolveAccount } from "../resolve.ts";

// ------------------------------------------------------------------------------------------------- passphrase

/** A terminal to prompt on: stdin when it is one, else the controlling terminal while stderr is one. */
const openTerminal = (): { readonly input: ReadStream; readonly close: () => void } | undefined => {
  if (process.stdin.isTTY === true) return { input: process.stdin as ReadStream, close: () => undefined };
  if (process.stderr.isTTY !== true) return undefined;
  try {
    const input = new ReadStream(openSync("/dev/tty", "r"));
    return { input, close: () => input.destroy() };
  } catch {
    return undefined;
  }
};

/** Reads one line with echo off; rejects on Ctrl-C, or Ctrl-D on an empty line. */
const promptHidden = (input: ReadStream, question: string): Promise<string> =>
  new Promise((resolve, reject) => {
    let value = "";
    const finish = (error?: Error) => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write("\n");
      if (error === undefined) resolve(value);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return finish();
        if (ch === "\u0003" || (ch === "\u0004" && value === "")) return finish(new Error("cancelled"));
        if (ch === "\u007f" || ch === "\b") value = [...value].slice(0, -1).join("");
        else if (ch >= " ") value += ch;
      }
    };
    // Echo off BEFORE the question appears: whoever types as soon as they see it must not see it echoed.
    input.setRawMode(true);
    process.stderr.write(question);
    input.on("data", onData);
    input.resume();
  });

const passphraseError = (message: string) => new InvalidInput({ reason: "passphrase", message });

/**
 * The passphrase: BATON_PASSPHRASE, else a prompt on the terminal (twice when `confirm`), else a usage error.
 * Never logged, never part of an error message.
 */
export const readPassphrase = (purpose: string, confirm: boolean): Effect.Effect<string, InvalidInput> =>
  Effect.gen(function* () {
    const fromEnv = process.env.BATON_PASSPHRASE;
    if (fromEnv !== undefined) {
      if (fromEnv === "") return yield* passphraseError("BATON_PASSPHRASE is set but empty");
      return fromEnv;
    }
    const terminal = openTerminal();
    if (terminal === undefined) {
      return yield* passphraseError(
        `${purpose} needs a passphrase: set BATON_PASSPHRASE, or run it on a terminal to be asked (never on the command line)`,
      );
    }
    const ask = (question: string) =>
      Effect.tryPromise({
        try: () => promptHidden(terminal.input, question),
        catch: () => passphraseError("passphrase entry cancelled"),
      });
    return yield* Effect.gen(function* () {
      const first = yield* ask(`Passphrase for the ${purpose}: `);
      if (first === "") return yield* passphraseError("the passphrase must not be empty");
      if (confirm && (yield* ask("Repeat the passphrase: ")) !== first) {
        return yield* passphraseError("the two passphrases differ");
      }
      return first;
    }).pipe(Effect.ensuring(Effect.sync(terminal.close)));
  });

// ---------------------------------------------------------------------------------------------------- options

export interface ExportOptions {
  readonly ref: string;
  readonly out: string | undefined;
  readonly force: boolean;
  /** Remove the local credentials once the export is durably written. */
  readonly move: boolean;
}

export const parseExportOptions = (input: {
  readonly ref: string;
  readonly out: Option.Option<string>;
  readonly force: boolean;
  readonly move: boolean;
}): Effect.Effect<ExportOptions, InvalidInput> => {
  const out = Option.getOrUndefined(input.out);
  if (input.force && out === undefined) {
    return Effect.fail(new InvalidInput({ reason: "argument", message: "--force only makes sense with --out FILE" }));
  }
  if (input.move && out === undefined) {
    return Effect.fail(
      new InvalidInput({ reason: "argument", message: "--move needs --out FILE (the file is synced before removal)" }),
    );
  }
  if (out === "") return Effect.fail(new InvalidInput({ reason: "argument", message: "--out: name a file" }));
  return Effect.succeed({ ref: input.ref, out, force: input.force, move: input.move });
};

// -------------------------------------------------------------------------------------------------- behaviour

/** A store failure as the exit-code contract sees it: a corrupt record needs a login, the rest is retryable. */
export const storeProblem = (account: AccountRef) => (failure: StoreFailure) =>
  failure.reason === "corrupt"
    ? new LoginRequired({ account: accountKey(account), reason: "no-credentials", message: failure.message })
    : new Retryable({ account: accountKey(account), reason: "store-unavailable", message: failure.message });

const writeExportFile = (path: string, text: string, force: boolean) =>
  Effect.tryPromise({
    try: async () => {
      // The store's own primitives: 0600, O_EXCL|O_NOFOLLOW, fsync, removed again if writing fails.
      if (!force) return SecureFiles.writeNewFile(path, text);
      const temp = SecureFiles.tempName(path);
      await SecureFiles.writeNewFile(temp, text);
      await rename(temp, path).catch(async (error: unknown) => {
        await unlink(temp).catch(() => undefined);
        throw error;
      });
    },
    catch: (error) => {
      const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "error";
      return new InvalidInput({
        reason: "argument",
        message:
          code === "EEXIST"
            ? `${path} already exists; pass --force to replace it`
            : `could not write ${path} (${code === "ELOOP" ? "it is a symbolic link" : code})`,
      });
    },
  });

export const runExport = (options: ExportOptions) =>
  Effect.gen(function* () {
    const account = yield* resolveAccount(options.ref);
    const key = accountKey(account);
    yield* ProviderRegistry.getProvider(account.provider);
    const { out } = options;
    if (out !== undefined && !options.force) {
      const exists = yield* Effect.promise(() =>
        lstat(out).then(
          () => true,
          () => false,
        ),
      );
      if (exists) {
        return yield* new InvalidInput({
          reason: "argument",
          message: `${out} already exists; pass --force to replace it`,
        });
      }
    }
    const secrets = yield* SecretStore;
    const read = secrets.read(account).pipe(Effect.mapError(storeProblem(account)));
    // Checked first without the lock (taking it would create the directory of an account that does not exist).
    if ((yield* read) === undefined) {
      return yield* new LoginRequired({
        account: key,
        reason: "no-credentials",
        message: `${key} has no credentials to export; log in with \`baton login ${key}\``,
      });
    }
    const passphrase = yield* readPassphrase(`export of ${key}`, true);
    // Under the lock: the export is never taken half-way through a refresh, and a move removes exactly what it wrote.
    const credentials = yield* withAccountLock(
      account,
      Effect.gen(function* () {
        const current = yield* read;
        if (current === undefined) {
          return yield* new LoginRequired({ account: key, reason: "no-credentials", message: `${key} was logged out` });
        }
        const now = yield* Clock.currentTimeMillis;
        const envelope = yield* Effect.promise(() =>
          seal(
            key,
            {
              access_token: current.accessToken,
              ...(current.refreshToken === undefined ? {} : { refresh_token: current.refreshToken }),
              token_type: current.tokenType,
              expires_at: current.expiresAt,
              ...(current.scope === undefined ? {} : { scope: current.scope }),
              issuer: current.issuer,
              client_id: current.clientId,
              generation: current.generation,
              exported_at: now,
            },
            passphrase,
          ),
        );
        const text = `${JSON.stringify(envelope, null, 2)}\n`;
        if (out === undefined) {
          yield* Effect.sync(() => {
            process.stderr.write(
              "warning: writing the encrypted export to stdout; store it as carefully as the account\n",
            );
            process.stdout.write(text);
          });
        } else {
          yield* writeExportFile(out, text, options.force);
        }
        if (options.move) yield* secrets.remove(account).pipe(Effect.mapError(storeProblem(account)));
        yield* record(account, { type: "account.exported", generation: current.generation, moved: options.move });
        return current;
      }),
    );
    const summary = describeCredentials(credentials);
    yield* Effect.sync(() =>
      process.stderr.write(
        `exported ${key} (generation ${summary.generation}, access ${summary.accessFp}` +
          `${summary.refreshFp === undefined ? "" : `, refresh ${summary.refreshFp}`}, expires ${absoluteTime(summary.expiresAt)})` +
          `${out === undefined ? "" : ` to ${out}`} in format baton-export v${EXPORT_VERSION}\n` +
          (options.move
            ? `moved: ${key}'s credentials were removed here; the export now holds the only copy of this login\n`
            : "note: the copy shares ONE token family with this login. Where the provider rotates refresh tokens, " +
              "whichever side refreshes first leaves the other with a used refresh token, and the provider may revoke " +
              `the whole login when it is presented. To hand the login over, use \`baton export ${key} --out FILE --move\`.\n`),
      ),
    );
  });

export const exportCommand = Command.make(
  "export",
  {
    ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT, or PROVIDER for its default account")),
    out: Flag.String("out").pipe(
      Flag.withDescription("write to FILE (created 0600; an existing file is refused unless --force)"),
      Flag.optional,
    ),
    force: Flag.Boolean("force").pipe(Flag.withDescription("replace FILE if it exists"), Flag.withDefault(false)),
    move: Flag.Boolean("move").pipe(
      Flag.withDescription("hand the login over: remove the local credentials once FILE is written"),
      Flag.withDefault(false),
    ),
  },
  (input) => Effect.flatMap(parseExportOptions(input), runExport),
).pipe(
  Command.withDescription(
    "Export an account's credentials, encrypted with a passphrase (BATON_PASSPHRASE or a prompt)",
  ),
  Command.withExamples([
    { command: "baton export github:work --out work.baton", description: "encrypted file, 0600, asks the passphrase" },
    { command: "baton export github:work > work.baton", description: "to stdout (a warning goes to stderr)" },
    { command: "baton export github:work --out work.baton --move", description: "hand the login over" },
    { command: "baton import github:work work.baton", description: "on the other machine" },
  ]),
);
