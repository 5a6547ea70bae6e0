/**
 * NOT baton: the tool `baton demo` runs first to show what baton prevents — a command-line tool that keeps its login
 * in a file and refreshes it on its own, with no lock and no claim, as many tools do. Bundled as its own small program
 * (dist/demo-naive-tool.mjs) so that the demo's herd is real processes, like baton's.
 *
 * Usage: node demo-naive-tool.mjs CREDENTIALS_FILE TOKEN_ENDPOINT CLIENT_ID
 *
 * It says `ready` on stdout once loaded and starts at the demo's `go` on stdin, so that the whole herd needs a token
 * at the same moment whatever the cost of starting processes. Then it reads `{ accessToken, refreshToken, expiresAt }`
 * from the file; when the access token has expired, presents the refresh token (grant_type=refresh_token) and writes
 * the answer back. Prints one JSON line for the demo on stdout:
 * `{ outcome: "fresh" | "refreshed" | "rejected" | "failed", accessToken?, error? }` — the access token goes to the
 * demo (its parent, through a pipe), which only asks the server whether it still works and never prints it.
 */
import { readFileSync, writeFileSync } from "node:fs";

interface Stored {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresAt: number;
}

const report = (line: Record<string, string>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const main = async ([file = "", tokenEndpoint = "", clientId = ""]: ReadonlyArray<string>) => {
  const stored = JSON.parse(readFileSync(file, "utf8")) as Stored;
  if (stored.expiresAt > Date.now()) return report({ outcome: "fresh", accessToken: stored.accessToken });
  const response = await fetch(tokenEndpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({ grant_type: "refresh_token", client_id: clientId, refresh_token: stored.refreshToken }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok || typeof body.access_token !== "string") {
    return report({
      outcome: "rejected",
      error: typeof body.error === "string" ? body.error : `HTTP ${response.status}`,
    });
  }
  const next: Stored = {
    accessToken: body.access_token,
    refreshToken: typeof body.refresh_token === "string" ? body.refresh_token : stored.refreshToken,
    expiresAt: Date.now() + (typeof body.expires_in === "number" ? body.expires_in : 3600) * 1000,
  };
  writeFileSync(file, JSON.stringify(next), { mode: 0o600 });
  report({ outcome: "refreshed", accessToken: next.accessToken });
};

let started = false;
process.stdout.write("ready\n");
process.stdin.once("data", () => {
  started = true;
  process.stdin.pause();
  main(process.argv.slice(2)).catch((error: unknown) => {
    report({ outcome: "failed", error: error instanceof Error ? error.message : String(error) });
  });
});
// The demo went away before `go`: nothing to do.
process.stdin.once("end", () => {
  if (!started) process.exit(0);
});
