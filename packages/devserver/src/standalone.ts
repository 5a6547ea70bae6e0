/**
 * Runs the local authorization server in its own process, for tests that need it outside their own process and for
 * `baton demo`:
 *
 *   node packages/adapters/src/devserver/standalone.ts [--port N] [--access-ttl S] [--latency MS] [--max-lifetime S]
 *
 * (Node >= 22.18 runs the TypeScript source directly; see standalone-options.ts for every flag and environment
 * variable.) Once listening it prints exactly one JSON line on stdout, `{"issuer":…,"clientId":…,"port":…}`; all
 * diagnostics go to stderr. The `/_test/` control API is on (see control-api.ts).
 *
 * It stops when its stdin closes (if stdin is a pipe or socket, so a parent that dies takes it along), on SIGTERM or
 * SIGINT, and in any case after `--max-lifetime` seconds (default 900), so a forgotten server cannot linger.
 */
import { fstatSync } from "node:fs";
import { type AuthorizationServer, startAuthorizationServer } from "./authorization-server.ts";
import { parseStandaloneOptions, type StandaloneOptions } from "./standalone-options.ts";

/** stdout is a machine-read channel: send anything a library logs with console.log/info/debug to stderr. */
function keepStdoutForTheAddressLine(): void {
  const toStderr = (...parts: unknown[]): void => console.error(...parts);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}

function stdinIsWatchable(): boolean {
  try {
    const stats = fstatSync(0);
    return stats.isFIFO() || stats.isSocket();
  } catch {
    return false;
  }
}

function log(message: string): void {
  process.stderr.write(`[devserver] ${message}\n`);
}

function stopOnSignals(server: AuthorizationServer, maxLifetimeSeconds: number): void {
  let stopping = false;
  const shutdown = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    clearTimeout(lifetime);
    log(`stopping: ${reason}`);
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log(`stop failed: ${error instanceof Error ? error.message : "unknown error"}`);
        process.exit(1);
      },
    );
  };
  const lifetime = setTimeout(
    () => shutdown(`maximum lifetime of ${maxLifetimeSeconds} s reached`),
    maxLifetimeSeconds * 1000,
  );
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
  if (stdinIsWatchable()) {
    process.stdin.once("end", () => shutdown("stdin closed"));
    process.stdin.once("close", () => shutdown("stdin closed"));
    process.stdin.once("error", () => shutdown("stdin failed"));
    process.stdin.resume();
  }
}

async function main(): Promise<void> {
  keepStdoutForTheAddressLine();
  let options: StandaloneOptions;
  try {
    options = parseStandaloneOptions(process.argv.slice(2), process.env);
  } catch (error) {
    log(`invalid options: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
  const server = await startAuthorizationServer({ ...options.server, controlApi: true });
  if (options.lostAnswers !== undefined)
    server.loseNextTokenAnswers(options.lostAnswers.count, options.lostAnswers.answer);
  stopOnSignals(server, options.maxLifetimeSeconds);
  process.stdout.write(`${JSON.stringify({ issuer: server.issuer, clientId: server.clientId, port: server.port })}\n`);
  log(`listening on ${server.issuer} (control API under ${server.issuer}/_test/)`);
}

main().catch((error: unknown) => {
  log(`failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
