/**
 * What a thin client (BATON_SERVER set) runs: the commands that use tokens — `token`, `exec`, `status` and the
 * credential helpers — ask the broker. Every other command works on a local store (a login, a refresh, an export,
 * the registry…), which a thin client does not have: it is refused with exit 2 and a message saying where it runs,
 * rather than quietly acting on an empty home. Help and the version are always shown.
 */

const THIN_COMMANDS: ReadonlySet<string> = new Set([
  "token",
  "exec",
  "status",
  "git-credential",
  "kubectl-credential",
  "help",
]);

const brokers = (servers: ReadonlyArray<string>): string =>
  servers.length === 1 ? `the broker at ${servers[0]}` : `the brokers at ${servers.join(", ")}`;

/**
 * Why `baton ARGS` cannot run as a thin client of the brokers at `servers` (BATON_SERVER's addresses), or `undefined`
 * when it can. `commands` are the names of baton's commands: the first argument that is one names the command.
 */
export const thinRefusal = (
  args: ReadonlyArray<string>,
  commands: ReadonlyArray<string>,
  servers: ReadonlyArray<string>,
): string | undefined => {
  if (args.some((arg) => arg === "--help" || arg === "-h" || arg === "--version")) return undefined;
  const command = args.find((arg) => commands.includes(arg));
  if (command === undefined || THIN_COMMANDS.has(command)) return undefined;
  return (
    `BATON_SERVER is set: this process borrows access tokens from ${brokers(servers)}, which ${servers.length === 1 ? "holds" : "hold"} the ` +
    `accounts; \`baton ${command}\` runs on the broker's host (unset BATON_SERVER to use a store on this machine)`
  );
};
