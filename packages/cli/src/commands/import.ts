/**
 * `baton import REF [FILE] [--plaintext | --from claude-code|codex|gemini|gh]`: stores credentials from FILE (or
 * stdin; with --from, by default the tool's own file, see ../adopt-formats.ts) as the account's next generation,
 * through the core's `storeNewCredentials` (under the account lock, compare-and-set, durable before the event).
 * FILE is an encrypted `baton export` (a wrong passphrase or any changed byte: exit 2 "wrong passphrase or damaged
 * file") or, with --plaintext, a token JSON `{access_token, refresh_token?, expires_at | expires_in, token_type?,
 * scope?}`. Either way the tokens must meet the rules baton applies to a server's answer (TokenRules: Bearer,
 * visible ASCII, a lifetime of at most ten years). Every check happens before anything is written: a malformed file
 * names the field (exit 2), an unknown provider exits 5, and an export made for another issuer or client is refused
 * (I10). A FILE readable by others gets a warning.
 */
import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { ProviderConfig, ProviderRegistry, TokenRules } from "@baton/adapters";
import {
  type AccountRef,
  accountFromKey,
  accountKey,
  describeCredentials,
  InvalidInput,
  storeNewCredentials,
  type TokenSet,
} from "@baton/core";
import { Clock, Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { ADOPT_FORMATS, type AdoptFormat, defaultPath, handOverNote, readAdopted } from "../adopt-formats.ts";
import {
  checkExportPayload,
  looksLikeEnvelope,
  parseEnvelope,
  parseJsonText,
  parsePlaintextToken,
  unseal,
} from "../export-format.ts";
import { absoluteTime, relativeTime } from "../format.ts";
import { parseRef } from "../resolve.ts";
import { readPassphrase } from "./export.ts";

const MAX_BYTES = 1024 * 1024;

const invalid = (message: string) => new InvalidInput({ reason: "import", message });

export interface ImportOptions {
  readonly ref: string;
  /** `undefined` (or "-" on the command line): stdin. */
  readonly file: string | undefined;
  readonly plaintext: boolean;
  /** Adopt another tool's login from its file (default: the tool's usual path). */
  readonly from?: AdoptFormat | undefined;
}

export const parseImportOptions = (input: {
  readonly ref: string;
  readonly file: Option.Option<string>;
  readonly plaintext: boolean;
  readonly from?: Option.Option<AdoptFormat>;
}): ImportOptions => {
  const file = Option.getOrUndefined(input.file);
  const from = input.from === undefined ? undefined : Option.getOrUndefined(input.from);
  const adopted = from === undefined || file !== undefined ? file : defaultPath(from, process.env, homedir());
  return { ref: input.ref, file: adopted === "-" ? undefined : adopted, plaintext: input.plaintext, from };
};

const readStdin = (): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = [];
    let size = 0;
    process.stdin.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BYTES) {
        process.stdin.destroy();
        reject(new Error("too large"));
      } else chunks.push(chunk);
    });
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });

/** The input's text and a name for messages; warns when FILE is readable by group or others. */
const readInput = (file: string | undefined) =>
  Effect.gen(function* () {
    if (file === undefined) {
      if (process.stdin.isTTY === true) {
        return yield* invalid("give a FILE, or pipe the export into stdin (stdin is a terminal)");
      }
      const text = yield* Effect.tryPromise({
        try: readStdin,
        catch: () => invalid(`stdin: could not read it (at most ${MAX_BYTES} bytes)`),
      });
      return { source: "stdin", text };
    }
    return yield* Effect.tryPromise({
      try: async () => {
        const info = await stat(file);
        if (!info.isFile()) throw Object.assign(new Error(), { code: "not a regular file" });
        if (info.size > MAX_BYTES) throw Object.assign(new Error(), { code: `larger than ${MAX_BYTES} bytes` });
        if ((info.mode & 0o077) !== 0) {
          process.stderr.write(
            `warning: ${file} is readable by others (mode ${(info.mode & 0o777).toString(8)}); it holds credentials: ` +
              "chmod 600 it, or delete it after the import\n",
          );
        }
        return { source: file, text: await readFile(file, "utf8") };
      },
      catch: (error) =>
        invalid(
          `could not read ${file} (${typeof error === "object" && error !== null && "code" in error ? String(error.code) : "error"})`,
        ),
    });
  });

interface Decoded {
  readonly tokens: TokenSet;
  readonly expiresAt: number | undefined;
  /** The account an encrypted export was made for. */
  readonly exportedFrom: string | undefined;
  readonly issuer: string | undefined;
  readonly clientId: string | undefined;
}

/** Another tool's file, through the plaintext import's validation (adopt-formats.ts). */
const decodeAdopted = (source: string, text: string, format: AdoptFormat) =>
  Effect.gen(function* () {
    const json = format === "gh" ? { ok: undefined } : parseJsonText(text);
    if ("problem" in json) return yield* invalid(`${source} ${json.problem}`);
    const now = yield* Clock.currentTimeMillis;
    const adopted = readAdopted(format, text, json.ok, now);
    if ("problem" in adopted) return yield* invalid(`${source} (${format}): ${adopted.problem}`);
    const token = parsePlaintextToken(adopted.ok, now);
    if ("problem" in token) return yield* invalid(`${source} (${format}): ${token.problem}`);
    const decoded: Decoded = { ...token.ok, exportedFrom: undefined, issuer: undefined, clientId: undefined };
    return decoded;
  });

/** Validates the input completely (decrypting an export) before anything is written. */
const decodeInput = (source: string, text: string, plaintext: boolean, account: string) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis;
    const json = parseJsonText(text);
    if ("problem" in json) return yield* invalid(`${source} ${json.problem}`);
    if (plaintext) {
      if (looksLikeEnvelope(json.ok)) {
        return yield* invalid(`${source} is an encrypted baton export; import it without --plaintext`);
      }
      const token = parsePlaintextToken(json.ok, now);
      if ("problem" in token) return yield* invalid(`${source}: ${token.problem}`);
      if (token.ok.ignored.length > 0) {
        process.stderr.write(`warning: ignoring field(s) baton does not store: ${token.ok.ignored.join(", ")}\n`);
      }
      const decoded: Decoded = { ...token.ok, exportedFrom: undefined, issuer: undefined, clientId: undefined };
      return decoded;
    }
    if (!looksLikeEnvelope(json.ok)) {
      return yield* invalid(
        `${source} is not a baton export (format "baton-export"); for a token JSON use --plaintext`,
      );
    }
    const envelope = parseEnvelope(json.ok);
    if ("problem" in envelope) return yield* invalid(`${source}: ${envelope.problem}`);
    const passphrase = yield* readPassphrase(`import into ${account}`, false);
    const payload = yield* Effect.promise(() => unseal(envelope.ok, passphrase));
    if (payload === undefined) {
      return yield* new InvalidInput({ reason: "passphrase", message: `${source}: wrong passphrase or damaged file` });
    }
    const broken = checkExportPayload(payload, now);
    if (broken !== undefined) return yield* invalid(`${source}: the exported ${broken}`);
    const decoded: Decoded = {
      tokens: {
        accessToken: payload.access_token,
        refreshToken: payload.refresh_token,
        tokenType: TokenRules.BEARER,
        expiresIn: undefined,
        scope: payload.scope,
      },
      expiresAt: payload.expires_at,
      exportedFrom: envelope.ok.account,
      issuer: payload.issuer,
      clientId: payload.client_id,
    };
    return decoded;
  });

export const runImport = (options: ImportOptions) =>
  Effect.gen(function* () {
    const parsed = yield* parseRef(options.ref);
    const provider = yield* ProviderRegistry.getProvider(parsed.provider);
    const { source, text } = yield* readInput(options.file);
    const fallback = parsed.account ?? (yield* ProviderRegistry.defaultAccount(parsed.provider));
    const label = fallback === undefined ? parsed.provider : `${parsed.provider}:${fallback}`;
    if (options.from !== undefined && options.plaintext) {
      return yield* new InvalidInput({ reason: "argument", message: "--from and --plaintext: give one of them" });
    }
    const decoded =
      options.from === undefined
        ? yield* decodeInput(source, text, options.plaintext, label)
        : yield* decodeAdopted(source, text, options.from);
    const exported = decoded.exportedFrom === undefined ? undefined : accountFromKey(decoded.exportedFrom);
    const name = fallback ?? (exported?.provider === parsed.provider ? exported.account : undefined);
    if (name === undefined) {
      return yield* new InvalidInput({
        reason: "argument",
        message: `${parsed.provider} has no default account; name one: baton import ${parsed.provider}:ACCOUNT`,
      });
    }
    const account: AccountRef = { provider: parsed.provider, account: name };
    const key = accountKey(account);
    if (
      decoded.issuer !== undefined &&
      (decoded.issuer !== provider.issuer || decoded.clientId !== provider.clientId)
    ) {
      return yield* invalid(
        `${source} holds tokens of issuer ${decoded.issuer} (client ${decoded.clientId}), but provider ` +
          `${provider.name} is ${provider.issuer} (client ${provider.clientId}); baton sends tokens only to their issuer`,
      );
    }
    if (decoded.exportedFrom !== undefined && decoded.exportedFrom !== key) {
      yield* Effect.sync(() => process.stderr.write(`importing the export of ${decoded.exportedFrom} as ${key}\n`));
    }
    const stored = yield* storeNewCredentials(account, ProviderConfig.toProfile(provider), decoded.tokens, "import", {
      ...(decoded.expiresAt === undefined ? {} : { expiresAt: decoded.expiresAt }),
      ...(options.from === undefined ? {} : { origin: `${options.from} ${source}` }),
    });
    yield* ProviderRegistry.setDefaultAccount(account.provider, account.account, true);
    const now = yield* Clock.currentTimeMillis;
    const summary = describeCredentials(stored);
    yield* Effect.sync(() =>
      process.stderr.write(
        `imported ${key}: generation ${summary.generation}${summary.generation > 1 ? " (replacing the previous one)" : ""}, access ${summary.accessFp}` +
          `${summary.refreshFp === undefined ? " (no refresh token)" : `, refresh ${summary.refreshFp}`}, ` +
          `expires ${relativeTime(summary.expiresAt, now)} (${absoluteTime(summary.expiresAt)})\n` +
          (summary.expiresAt <= now && summary.refreshFp === undefined
            ? `warning: the access token has expired and there is no refresh token; \`baton login ${key}\` will be needed\n`
            : "") +
          (options.from === undefined ? "" : `${handOverNote(options.from, key, source)}\n`),
      ),
    );
  });

export const importCommand = Command.make(
  "import",
  {
    ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT to store the credentials as")),
    file: Argument.String("file").pipe(
      Argument.withDescription("a `baton export` file, or a token JSON with --plaintext (default or -: stdin)"),
      Argument.optional,
    ),
    plaintext: Flag.Boolean("plaintext").pipe(
      Flag.withDescription("FILE is a token JSON {access_token, refresh_token, expires_at | expires_in, …}"),
      Flag.withDefault(false),
    ),
    from: Flag.Literals("from", ADOPT_FORMATS).pipe(
      Flag.withDescription("adopt the login another tool holds (FILE defaults to the tool's own file)"),
      Flag.optional,
    ),
  },
  (input) => runImport(parseImportOptions(input)),
).pipe(
  Command.withDescription("Import credentials from an encrypted export, or from a token JSON with --plaintext"),
  Command.withExamples([
    { command: "baton import github:work work.baton", description: "asks the export's passphrase" },
    {
      command: "baton import github:ci token.json --plaintext",
      description: "a token response saved by another tool",
    },
    { command: "baton import github:work - < work.baton", description: "from stdin (needs BATON_PASSPHRASE)" },
    { command: "baton import claude --from claude-code", description: "adopt Claude Code's login" },
  ]),
);
