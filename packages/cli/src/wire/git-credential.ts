/**
 * git's credential helper protocol (git-credential(1)): git runs `HELPER get|store|erase` and writes `key=value`
 * lines on its stdin, ending with a blank line or EOF; `get` answers with `key=value` lines on stdout. Keys ending in
 * `[]` (`capability[]`, `wwwauth[]`) may repeat. Values cannot contain a newline (git refuses them), and baton never
 * writes one it did not check.
 *
 * baton answers `get` with `username`, `password` (the access token) and `password_expiry_utc` (unix seconds; git
 * ≥ 2.40 drops an expired credential instead of using it). When git announces `capability[]=authtype` (git ≥ 2.46),
 * the answer is a pre-encoded bearer credential instead: `capability[]=authtype`, `authtype=Bearer`, `credential`,
 * `ephemeral=1` (do not store it) and `password_expiry_utc`.
 */

export interface GitRequest {
  readonly fields: ReadonlyMap<string, string>;
  readonly lists: ReadonlyMap<string, ReadonlyArray<string>>;
}

/** Parses git's request; lines without `=` are ignored, as git itself does with unknown input. */
export const parseGitRequest = (text: string): GitRequest => {
  const fields = new Map<string, string>();
  const lists = new Map<string, Array<string>>();
  for (const line of text.split("\n")) {
    const clean = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (clean === "") break;
    const at = clean.indexOf("=");
    if (at <= 0) continue;
    const key = clean.slice(0, at);
    const value = clean.slice(at + 1);
    if (key.endsWith("[]")) lists.set(key, [...(lists.get(key) ?? []), value]);
    else fields.set(key, value);
  }
  return { fields, lists };
};

export const wantsAuthtype = (request: GitRequest): boolean =>
  (request.lists.get("capability[]") ?? []).includes("authtype");

export interface GitCredential {
  readonly username: string;
  readonly token: string;
  /** When the client should stop using it, in ms since the epoch. */
  readonly expiresAt: number;
}

const SAFE_VALUE = /^[^\n\r\0]*$/;

/** The answer to `get`; throws on a value git could misread (a newline), which a checked token never has. */
export const formatGitAnswer = (credential: GitCredential, bearer: boolean): string => {
  const expiry = String(Math.floor(credential.expiresAt / 1000));
  const lines = bearer
    ? [
        ["capability[]", "authtype"],
        ["authtype", "Bearer"],
        ["credential", credential.token],
        ["ephemeral", "1"],
        ["password_expiry_utc", expiry],
      ]
    : [
        ["username", credential.username],
        ["password", credential.token],
        ["password_expiry_utc", expiry],
      ];
  for (const [key, value] of lines) {
    if (!SAFE_VALUE.test(value ?? "")) throw new Error(`git-credential: the ${key} would contain a line break`);
  }
  return lines.map(([key, value]) => `${key}=${value}\n`).join("");
};
