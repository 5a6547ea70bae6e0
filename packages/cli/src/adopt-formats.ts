/**
 * The logins other tools hold, for `baton import REF --from TOOL [FILE]`: where each tool keeps its tokens, how to
 * read them, and what the user must then do so that the two never refresh the same login. Each reader turns the
 * tool's file into the token JSON of `import --plaintext` (`{access_token, refresh_token?, expires_at, token_type,
 * scope?}`), which then goes through the same validation as any plaintext import (export-format.ts); a reader only
 * checks that the tool's own fields are where that tool puts them, naming them by their path in the tool's file.
 *
 *   claude-code  $CLAUDE_CONFIG_DIR/.credentials.json (default ~/.claude): claudeAiOauth.{accessToken, refreshToken,
 *                expiresAt (ms), scopes[]}
 *   codex        $CODEX_HOME/auth.json (default ~/.codex): tokens.{access_token, refresh_token, id_token},
 *                last_refresh; the expiry is the access token's JWT `exp` when it has one, else "due now"
 *   gemini       ~/.gemini/oauth_creds.json: google-auth-library credentials {access_token, refresh_token,
 *                expiry_date (ms), token_type, scope}
 *   gh           $GH_CONFIG_DIR/hosts.yml (default $XDG_CONFIG_HOME/gh, ~/.config/gh): HOST.oauth_token (github.com,
 *                or the only host); gh tokens have no refresh token and do not expire
 *
 * No message ever quotes a value (they are secrets).
 */
import { join } from "node:path";

export const ADOPT_FORMATS = ["claude-code", "codex", "gemini", "gh"] as const;
export type AdoptFormat = (typeof ADOPT_FORMATS)[number];

/** gh's OAuth tokens do not expire; baton records them as expiring after this long. */
export const GH_ASSUMED_LIFETIME_SECONDS = 365 * 24 * 60 * 60;

/** The tool's usual file, from its own environment variables. */
export const defaultPath = (format: AdoptFormat, env: NodeJS.ProcessEnv, home: string): string => {
  switch (format) {
    case "claude-code":
      return join(env.CLAUDE_CONFIG_DIR ?? join(home, ".claude"), ".credentials.json");
    case "codex":
      return join(env.CODEX_HOME ?? join(home, ".codex"), "auth.json");
    case "gemini":
      return join(home, ".gemini", "oauth_creds.json");
    case "gh":
      return join(env.GH_CONFIG_DIR ?? join(env.XDG_CONFIG_HOME ?? join(home, ".config"), "gh"), "hosts.yml");
  }
};

/** What the import tells the user on stderr once the login is baton's. */
export const handOverNote = (format: AdoptFormat, account: string, file: string): string => {
  switch (format) {
    case "claude-code":
      return (
        `Claude Code must stop refreshing this login, or the next rotation logs one of you out: delete ${file} ` +
        `(do not log out there: that can revoke the login baton now holds) and run Claude Code through baton: ` +
        `baton exec --env CLAUDE_CODE_OAUTH_TOKEN=${account} -- claude`
      );
    case "codex":
      return (
        `Codex must stop refreshing this login, or the next rotation logs one of you out: remove the tokens from ` +
        `${file} (do not log out there: that can revoke the login baton now holds)`
      );
    case "gemini":
      return (
        `Gemini CLI should stop using this login: Google refresh tokens do not rotate, so its refreshes do not fork ` +
        `baton's, but a logout there revokes both; remove ${file} once you use baton's token`
      );
    case "gh":
      return (
        `gh tokens do not rotate and have no refresh token: baton hands out this same token until it is revoked ` +
        `(it is recorded as expiring in 365 days; \`baton login ${account}\` or another import replaces it); gh may ` +
        `keep using it`
      );
  }
};

type Outcome = { readonly ok: Record<string, unknown> } | { readonly problem: string };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const nonEmptyString = (value: unknown): value is string => typeof value === "string" && value.length > 0;

const required = (path: string): Outcome => ({ problem: `${path}: is required (a non-empty string)` });

const claudeCode = (json: unknown): Outcome => {
  const oauth = isObject(json) ? json.claudeAiOauth : undefined;
  if (!isObject(oauth)) return { problem: "claudeAiOauth: is required (an object)" };
  if (!nonEmptyString(oauth.accessToken)) return required("claudeAiOauth.accessToken");
  if (oauth.refreshToken !== undefined && !nonEmptyString(oauth.refreshToken)) {
    return required("claudeAiOauth.refreshToken");
  }
  if (typeof oauth.expiresAt !== "number") return { problem: "claudeAiOauth.expiresAt: expected milliseconds" };
  const scopes = oauth.scopes;
  if (scopes !== undefined && !(Array.isArray(scopes) && scopes.every((s) => typeof s === "string"))) {
    return { problem: "claudeAiOauth.scopes: expected a list of strings" };
  }
  return {
    ok: {
      access_token: oauth.accessToken,
      ...(oauth.refreshToken === undefined ? {} : { refresh_token: oauth.refreshToken }),
      expires_at: oauth.expiresAt,
      token_type: "Bearer",
      ...(scopes === undefined || scopes.length === 0 ? {} : { scope: (scopes as Array<string>).join(" ") }),
    },
  };
};

/** The `exp` claim (seconds) of a JWT, or `undefined` when the token is not a JWT with a numeric `exp`. */
export const jwtExpiry = (token: string): number | undefined => {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    return isObject(claims) && typeof claims.exp === "number" && Number.isFinite(claims.exp) ? claims.exp : undefined;
  } catch {
    return undefined;
  }
};

const codex = (json: unknown, now: number): Outcome => {
  const tokens = isObject(json) ? json.tokens : undefined;
  if (!isObject(tokens)) return { problem: "tokens: is required (an object; this auth.json holds no ChatGPT login)" };
  if (!nonEmptyString(tokens.access_token)) return required("tokens.access_token");
  if (!nonEmptyString(tokens.refresh_token)) return required("tokens.refresh_token");
  const exp = jwtExpiry(tokens.access_token);
  return {
    ok: {
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      // Without a readable expiry the token is treated as due: the first use refreshes it.
      expires_at: exp === undefined ? now : exp * 1000,
      token_type: "Bearer",
    },
  };
};

const gemini = (json: unknown): Outcome => {
  if (!isObject(json)) return { problem: "(top level): expected a JSON object" };
  if (!nonEmptyString(json.access_token)) return required("access_token");
  if (json.refresh_token !== undefined && !nonEmptyString(json.refresh_token)) return required("refresh_token");
  if (typeof json.expiry_date !== "number") return { problem: "expiry_date: expected milliseconds since the epoch" };
  if (json.scope !== undefined && typeof json.scope !== "string") return { problem: "scope: expected a string" };
  return {
    ok: {
      access_token: json.access_token,
      ...(json.refresh_token === undefined ? {} : { refresh_token: json.refresh_token }),
      expires_at: json.expiry_date,
      token_type: typeof json.token_type === "string" ? json.token_type : "Bearer",
      ...(json.scope === undefined ? {} : { scope: json.scope }),
    },
  };
};

/**
 * The `oauth_token` of each top-level host of gh's hosts.yml. Hand-read rather than with a YAML library: gh writes
 * this file itself in one fixed shape (a host per top-level key, its settings indented below), and the only value
 * wanted is a plain scalar; a YAML dependency for one field is not worth it. Anything unexpected is reported.
 */
export const ghHosts = (text: string): ReadonlyMap<string, string | undefined> => {
  const hosts = new Map<string, string | undefined>();
  let host: string | undefined;
  let hostIndent = -1;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").replace(/\s+$/, "");
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const indent = line.length - line.trimStart().length;
    const top = /^([^\s:]+):$/.exec(line);
    if (indent === 0 && top !== null) {
      host = top[1];
      hostIndent = -1;
      if (host !== undefined) hosts.set(host, undefined);
      continue;
    }
    if (host === undefined) continue;
    // The host's own settings are at the indentation of its first line; deeper ones (under `users:`) are not its.
    if (hostIndent === -1) hostIndent = indent;
    const setting = /^\s+oauth_token:\s*(?:"([^"]*)"|'([^']*)'|(\S+))$/.exec(line);
    if (setting !== null && indent === hostIndent) hosts.set(host, setting[1] ?? setting[2] ?? setting[3]);
  }
  return hosts;
};

const gh = (text: string): Outcome => {
  const hosts = ghHosts(text);
  const names = [...hosts.keys()];
  const host = hosts.has("github.com") ? "github.com" : names.length === 1 ? names[0] : undefined;
  if (host === undefined) {
    return {
      problem:
        names.length === 0
          ? "names no host (expected `github.com:` with an `oauth_token:` below it)"
          : `names several hosts (${names.join(", ")}) and none is github.com`,
    };
  }
  const token = hosts.get(host);
  if (token === undefined || token === "") {
    return {
      problem:
        `${host}.oauth_token: is missing — gh keeps this login in the system keyring; ` +
        "import it with `gh auth token | baton import REF --plaintext` and a token JSON instead",
    };
  }
  return { ok: { access_token: token, expires_in: GH_ASSUMED_LIFETIME_SECONDS, token_type: "Bearer" } };
};

/** The tool's file as the token JSON of `import --plaintext`, or the problem naming the tool's field. */
export const readAdopted = (format: AdoptFormat, text: string, json: unknown, now: number): Outcome => {
  switch (format) {
    case "claude-code":
      return claudeCode(json);
    case "codex":
      return codex(json, now);
    case "gemini":
      return gemini(json);
    case "gh":
      return gh(text);
  }
};
