/**
 * The invocations `baton` runs without loading effect/cli, whose module initialization alone costs about 30 ms per
 * process (measured on this machine; a herd of 32 `baton token` processes would pay a CPU-second for it): exactly
 * `token REF` and `status [REF] [--json]`, the forms scripts and herds use. For these forms effect/cli's parse has
 * one result, which this returns; every other command line — help, other flags, `--json=…`, repeats, mistakes — is
 * `undefined` and goes to effect/cli with the same command definitions (main.ts). The handlers are the commands'
 * own (token-view.ts, status-view.ts).
 */
export type LeanInvocation =
  | { readonly command: "token"; readonly ref: string }
  | { readonly command: "status"; readonly ref: string | undefined; readonly json: boolean };

/** An operand as effect/cli reads one: a word that is not a flag. */
const isOperand = (arg: string | undefined): arg is string => arg !== undefined && arg !== "" && !arg.startsWith("-");

export const leanInvocation = (args: ReadonlyArray<string>): LeanInvocation | undefined => {
  const [command, ...rest] = args;
  if (command === "token") return rest.length === 1 && isOperand(rest[0]) ? { command, ref: rest[0] } : undefined;
  if (command !== "status" || rest.length > 2) return undefined;
  const json = rest.includes("--json");
  const operands = rest.filter((arg) => arg !== "--json");
  if (operands.length !== rest.length - (json ? 1 : 0) || operands.length > 1) return undefined;
  const [ref] = operands;
  return ref === undefined || isOperand(ref) ? { command, ref, json } : undefined;
};
