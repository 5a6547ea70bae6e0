/**
 * The two import formats of `baton export` / `baton import`, as Effect Schemas, and the encryption of the first.
 *
 * 1. The encrypted export (format "baton-export", version 1): a JSON envelope whose `ciphertext` is the account's
 *    credentials (see {@link ExportPayload}) under AES-256-GCM, with a key derived from a passphrase by scrypt
 *    (node:crypto, memory-hard: N = 2^17, r = 8, p = 1, 128 MiB) and a random 16-byte salt, a random 12-byte nonce
 *    and a 16-byte tag. The account name stays in the clear and is bound, with every header field, as additional
 *    authenticated data: editing any of them makes decryption fail like a wrong passphrase. KDF parameters read from
 *    a file are bounded (at most 512 MiB) so a crafted file cannot exhaust memory.
 * 2. The plaintext token JSON of `import --plaintext`: `{access_token, refresh_token?, expires_at (ms) | expires_in
 *    (s), token_type?, scope?}`, e.g. an OAuth token response saved by another tool.
 *
 * Tokens from either format must also meet the rules baton applies to a token endpoint's answer (the adapters'
 * TokenRules: Bearer, visible ASCII, a lifetime of at most ten years), so nothing refused from a server comes in here.
 *
 * Every problem is a sentence naming the field (`access_token: is required`); no message ever quotes a value (I8).
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from "node:crypto";
import { TokenRules } from "@baton/adapters";
import { isValidName, type TokenSet } from "@baton/core";
import { Exit, Schema, SchemaIssue } from "effect";

export const EXPORT_FORMAT = "baton-export";
export const EXPORT_VERSION = 1;
export const CIPHER = "aes-256-gcm";
export const DEFAULT_KDF = { N: 2 ** 17, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
/** scrypt needs about 128 · N · r bytes; a file may ask for at most this much. */
const MAX_KDF_MEMORY = 512 * 1024 * 1024;

const Base64 = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9+/]+={0,2}$/, { message: "expected base64" }));
const PowerOfTwo = Schema.Int.check(
  Schema.makeFilter((n: number) =>
    n >= 2 ** 10 && n <= 2 ** 20 && (n & (n - 1)) === 0 ? undefined : "expected a power of two from 2^10 to 2^20",
  ),
);
const AccountName = Schema.String.check(
  Schema.makeFilter((key: string) => {
    const [provider = "", account = "", ...rest] = key.split(":");
    return rest.length === 0 && isValidName(provider) && isValidName(account) ? undefined : "expected PROVIDER:ACCOUNT";
  }),
);

export const Kdf = Schema.Struct({
  name: Schema.Literal("scrypt"),
  N: PowerOfTwo,
  r: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 32 })),
  p: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4 })),
  keyLength: Schema.Literal(KEY_LENGTH),
  salt: Base64,
});
export type Kdf = typeof Kdf.Type;

export const Envelope = Schema.Struct({
  format: Schema.Literal(EXPORT_FORMAT),
  version: Schema.Literal(EXPORT_VERSION),
  kdf: Kdf,
  cipher: Schema.Literal(CIPHER),
  nonce: Base64,
  ciphertext: Base64,
  tag: Base64,
  account: AccountName,
});
export type Envelope = typeof Envelope.Type;

/** What the ciphertext holds: one generation of credentials, with the issuer and client they belong to (I10). */
export const ExportPayload = Schema.Struct({
  access_token: Schema.NonEmptyString,
  refresh_token: Schema.optionalKey(Schema.NonEmptyString),
  token_type: Schema.String,
  expires_at: Schema.Finite,
  scope: Schema.optionalKey(Schema.String),
  issuer: Schema.String,
  client_id: Schema.String,
  generation: Schema.Int,
  exported_at: Schema.Finite,
});
export type ExportPayload = typeof ExportPayload.Type;

export const PlaintextToken = Schema.Struct({
  access_token: Schema.NonEmptyString,
  refresh_token: Schema.optionalKey(Schema.NonEmptyString),
  expires_at: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))),
  expires_in: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))),
  token_type: Schema.optionalKey(Schema.NonEmptyString),
  scope: Schema.optionalKey(Schema.String),
});
const PLAINTEXT_FIELDS = new Set(["access_token", "refresh_token", "expires_at", "expires_in", "token_type", "scope"]);

/** What each field must be, for messages that never quote the value found. */
const EXPECTED: Readonly<Record<string, string>> = {
  access_token: "expected a non-empty string",
  refresh_token: "expected a non-empty string",
  expires_at: "expected milliseconds since the epoch (a positive number)",
  expires_in: "expected seconds (a positive number)",
  token_type: "expected a non-empty string such as Bearer",
  scope: "expected a string of space-separated scopes",
};

// ---------------------------------------------------------------------------------------------------- decoding

export type Outcome<A> = { readonly ok: A } | { readonly problem: string };

const formatter = SchemaIssue.makeFormatterStandardSchemaV1();

/** `kdf.N: expected …; access_token: is required` from a decoding issue, without values. */
const describe = (issue: SchemaIssue.Issue): string => {
  const lines = new Set<string>();
  for (const entry of formatter(issue).issues) {
    const path = (entry.path ?? []).map((s) => String(typeof s === "object" && s !== null && "key" in s ? s.key : s));
    const where = path.length === 0 ? "(top level)" : path.join(".");
    const field = path.at(-1) ?? "";
    const what =
      entry.message === "Missing key"
        ? "is required"
        : (EXPECTED[field] ?? (entry.message[0]?.toLowerCase() ?? "") + entry.message.slice(1));
    lines.add(`${where}: ${what}`);
  }
  return [...lines].slice(0, 5).join("; ");
};

const outcomeOf = <A>(exit: Exit.Exit<A, unknown>): Outcome<A> => {
  if (Exit.isSuccess(exit)) return { ok: exit.value };
  const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail");
  return failure !== undefined && Schema.isSchemaError(failure.error)
    ? { problem: describe(failure.error.issue) }
    : { problem: "does not match the expected shape" };
};

const all = { errors: "all" } as const;
const decodeEnvelope = (value: unknown) => outcomeOf(Schema.decodeUnknownExit(Envelope, all)(value));
const decodePayload = (value: unknown) => outcomeOf(Schema.decodeUnknownExit(ExportPayload, all)(value));
const decodePlaintext = (value: unknown) => outcomeOf(Schema.decodeUnknownExit(PlaintextToken, all)(value));

/** JSON.parse with a location on failure, never the text around it (it may hold a token). */
export const parseJsonText = (text: string): Outcome<unknown> => {
  if (text.trim() === "") return { problem: "is empty" };
  try {
    return { ok: JSON.parse(text) };
  } catch (error) {
    const match = /position (\d+)/.exec(error instanceof Error ? error.message : "");
    if (match === null) return { problem: "is not valid JSON (unexpected end or token)" };
    const before = text.slice(0, Number(match[1]));
    return {
      problem: `is not valid JSON (at line ${before.split("\n").length}, column ${before.length - before.lastIndexOf("\n")})`,
    };
  }
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export const looksLikeEnvelope = (json: unknown): boolean => isObject(json) && json.format === EXPORT_FORMAT;

export const parseEnvelope = (json: unknown): Outcome<Envelope> => {
  if (isObject(json) && typeof json.version === "number" && json.version !== EXPORT_VERSION) {
    return { problem: `version: unsupported version ${json.version} (this baton reads version ${EXPORT_VERSION})` };
  }
  const decoded = decodeEnvelope(json);
  if ("problem" in decoded) return decoded;
  if (128 * decoded.ok.kdf.N * decoded.ok.kdf.r * decoded.ok.kdf.p > MAX_KDF_MEMORY) {
    return { problem: "kdf: the parameters ask for more than 512 MiB of memory" };
  }
  return decoded;
};

export interface PlaintextImport {
  readonly tokens: TokenSet;
  /** Set when the file gave `expires_at`; otherwise `tokens.expiresIn` holds the lifetime. */
  readonly expiresAt: number | undefined;
  /** Fields present but not used (e.g. an `id_token`), named in a warning. */
  readonly ignored: ReadonlyArray<string>;
}

const ruleProblem = (problem: TokenRules.TokenProblem): { readonly problem: string } => ({
  problem: `${problem.field}: ${problem.problem}`,
});

/** A decoded token JSON, checked against baton's token rules at `now` (ms since the epoch). */
export const parsePlaintextToken = (json: unknown, now: number): Outcome<PlaintextImport> => {
  if (!isObject(json)) return { problem: "(top level): expected a JSON object" };
  const decoded = decodePlaintext(json);
  if ("problem" in decoded) return decoded;
  const token = decoded.ok;
  if (token.expires_at !== undefined && token.expires_in !== undefined) {
    return { problem: "expires_at, expires_in: give one of them, not both" };
  }
  if (token.expires_at === undefined && token.expires_in === undefined) {
    return { problem: "expires_at or expires_in: one of them is required" };
  }
  const broken =
    TokenRules.checkTokens({
      accessToken: token.access_token,
      refreshToken: token.refresh_token,
      tokenType: token.token_type ?? TokenRules.BEARER,
      expiresIn: token.expires_in,
    }) ?? (token.expires_at === undefined ? undefined : TokenRules.checkExpiresAt(token.expires_at, now));
  if (broken !== undefined) return ruleProblem(broken);
  return {
    ok: {
      tokens: {
        accessToken: token.access_token,
        refreshToken: token.refresh_token,
        tokenType: TokenRules.BEARER,
        expiresIn: token.expires_in,
        scope: token.scope,
      },
      expiresAt: token.expires_at,
      ignored: Object.keys(json).filter((key) => !PLAINTEXT_FIELDS.has(key)),
    },
  };
};

/** The problem of a decrypted export's tokens under baton's token rules at `now`, or `undefined`. */
export const checkExportPayload = (payload: ExportPayload, now: number): string | undefined => {
  const broken =
    TokenRules.checkTokens({
      accessToken: payload.access_token,
      refreshToken: payload.refresh_token,
      tokenType: payload.token_type,
      expiresIn: undefined,
    }) ?? TokenRules.checkExpiresAt(payload.expires_at, now);
  return broken === undefined ? undefined : ruleProblem(broken).problem;
};

// -------------------------------------------------------------------------------------------------- encryption

const deriveKey = (passphrase: string, kdf: Kdf): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    scrypt(
      passphrase.normalize("NFC"),
      Buffer.from(kdf.salt, "base64"),
      kdf.keyLength,
      { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r * kdf.p },
      (error, key) => (error === null ? resolve(key) : reject(error)),
    ),
  );

/** Every header field, in a fixed order, as the GCM additional data. */
const additionalData = (header: Omit<Envelope, "nonce" | "ciphertext" | "tag">): Buffer => {
  const { kdf } = header;
  const fields = [header.format, header.version, header.account, header.cipher, kdf.name, kdf.N, kdf.r, kdf.p];
  return Buffer.from(JSON.stringify([...fields, kdf.keyLength, kdf.salt]), "utf8");
};

/** Encrypts `payload` for `account` under `passphrase`. */
export const seal = async (
  account: string,
  payload: ExportPayload,
  passphrase: string,
  params: { readonly N: number; readonly r: number; readonly p: number } = DEFAULT_KDF,
): Promise<Envelope> => {
  const kdf: Kdf = { name: "scrypt", ...params, keyLength: KEY_LENGTH, salt: randomBytes(16).toString("base64") };
  const header = { format: EXPORT_FORMAT, version: EXPORT_VERSION, kdf, cipher: CIPHER, account } as const;
  const nonce = randomBytes(12);
  const cipher = createCipheriv(CIPHER, await deriveKey(passphrase, kdf), nonce);
  cipher.setAAD(additionalData(header));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(payload), "utf8"), cipher.final()]);
  return {
    format: header.format,
    version: header.version,
    kdf,
    cipher: header.cipher,
    nonce: nonce.toString("base64"),
    ciphertext: ciphertext.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
    account,
  };
};

/** Decrypts an envelope; `undefined` when the passphrase is wrong or any byte or header field was changed. */
export const unseal = async (envelope: Envelope, passphrase: string): Promise<ExportPayload | undefined> => {
  const key = await deriveKey(passphrase, envelope.kdf);
  const tag = Buffer.from(envelope.tag, "base64");
  const nonce = Buffer.from(envelope.nonce, "base64");
  if (tag.length !== 16 || nonce.length !== 12) return undefined;
  try {
    const decipher = createDecipheriv(CIPHER, key, nonce, { authTagLength: 16 });
    decipher.setAAD(additionalData(envelope));
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([decipher.update(Buffer.from(envelope.ciphertext, "base64")), decipher.final()]);
    const json = parseJsonText(plain.toString("utf8"));
    if ("problem" in json) return undefined;
    const payload = decodePayload(json.ok);
    return "ok" in payload ? payload.ok : undefined;
  } catch {
    return undefined;
  }
};
