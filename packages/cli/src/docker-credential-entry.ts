#!/usr/bin/env node
/**
 * The `docker-credential-baton` program (bundled as packages/cli/dist/docker-credential-baton.mjs): docker's
 * credential helper protocol (wire format in wire/docker-credential.ts) over baton's accounts. Configure it with
 * `"credsStore": "baton"` (or `"credHelpers": {"ghcr.io": "baton"}`) in ~/.docker/config.json and map registries
 * with `baton host add docker HOST REF`.
 *
 * - `get`: the registry URL on stdin → `{"ServerURL","Username","Secret"}` with a valid access token (refreshed under
 *   the protocol when needed); an unmapped registry → exit 1 and exactly "credentials not found in native keychain".
 * - `list`: `{REGISTRY: USERNAME}` for every mapped registry.
 * - `store`, `erase`: docker's login and logout; baton keeps its own credentials, so the input is read and dropped.
 * - `version`: one line.
 * Any failure: exit 1 with the message on stdout (docker shows it) and on stderr.
 * A thin client (BATON_SERVER) answers `get` and `list` from the broker's host mappings (serve/thin-helpers.ts).
 */
import { BrokerClient, CredentialHosts } from "@baton/adapters";
import { Tokens } from "@baton/core";
import { Effect, Exit } from "effect";
import { CliEnvironment, provideApp } from "./composition.ts";
import { messageOf } from "./exit-codes.ts";
import { exitCodeAfter } from "./exit-report.ts";
import { helperTarget } from "./helper-target.ts";
import { thinHelperAnswer } from "./serve/thin-helpers.ts";
import { readStdinText } from "./stdin.ts";
import { CREDENTIALS_NOT_FOUND, formatDockerCredential, formatDockerList } from "./wire/docker-credential.ts";

const VERSION = "docker-credential-baton (baton 0.1.0)";

class NotFoundAnswer {
  readonly _tag = "NotFoundAnswer";
}

const get = Effect.gen(function* () {
  const server = (yield* readStdinText()).trim();
  const env = yield* CliEnvironment;
  if (env.server !== undefined) {
    const named = { account: undefined, username: undefined };
    const answer = server === "" ? undefined : yield* thinHelperAnswer(env.server, "docker", server, named);
    if (answer === undefined) return yield* Effect.fail(new NotFoundAnswer());
    const thin = formatDockerCredential({ ServerURL: server, Username: answer.username, Secret: answer.token });
    return yield* Effect.sync(() => process.stdout.write(thin));
  }
  const target =
    server === "" ? undefined : yield* helperTarget("docker", server, { account: undefined, username: undefined });
  if (target === undefined) return yield* Effect.fail(new NotFoundAnswer());
  const credentials = yield* (yield* Tokens.Tokens).credentials(target.account);
  const output = formatDockerCredential({
    ServerURL: server,
    Username: target.username,
    Secret: credentials.accessToken,
  });
  yield* Effect.sync(() => process.stdout.write(output));
});

const list = Effect.gen(function* () {
  const env = yield* CliEnvironment;
  if (env.server !== undefined) {
    const mapped = yield* BrokerClient.hosts(env.server, "docker");
    return yield* Effect.sync(() => process.stdout.write(formatDockerList(mapped)));
  }
  const entries: Array<{ host: string; username: string }> = [];
  for (const entry of yield* CredentialHosts.listCredentialHosts("docker")) {
    // A mapping whose provider is gone, or has no default account yet, is left out rather than failing the list.
    const target = yield* helperTarget("docker", entry.host, {
      account: undefined,
      username: undefined,
    }).pipe(Effect.orElseSucceed(() => undefined));
    if (target !== undefined) entries.push({ host: entry.host, username: target.username });
  }
  yield* Effect.sync(() => process.stdout.write(formatDockerList(entries)));
});

const run = async (action: string | undefined): Promise<number> => {
  if (action === "version") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (action === "store" || action === "erase") {
    await Effect.runPromise(Effect.ignore(readStdinText()));
    return 0;
  }
  if (action !== "get" && action !== "list") {
    process.stdout.write("usage: docker-credential-baton get|list|store|erase|version\n");
    return 1;
  }
  const exit = await Effect.runPromiseExit(provideApp(action === "get" ? get : list));
  if (Exit.isSuccess(exit)) return 0;
  const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail");
  if (failure !== undefined && failure.error instanceof NotFoundAnswer) {
    process.stdout.write(`${CREDENTIALS_NOT_FOUND}\n`);
    return 1;
  }
  if (failure !== undefined) process.stdout.write(`${messageOf(failure.error)}\n`);
  exitCodeAfter(exit);
  return 1;
};

process.exitCode = await run(process.argv[2]);
