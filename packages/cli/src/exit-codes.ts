/**
 * The exit-code contract of SPEC §4 and the one place that maps a failure to a code and a message on stderr:
 * 0 ok · 1 unexpected (a bug) · 2 usage or invalid input · 3 login needed · 4 retryable · 5 not found.
 */
export const EXIT = { ok: 0, bug: 1, usage: 2, login: 3, retryable: 4, notFound: 5 } as const;

interface Tagged {
  readonly _tag: string;
  readonly message?: string;
}

const isTagged = (value: unknown): value is Tagged =>
  typeof value === "object" &&
  value !== null &&
  "_tag" in value &&
  typeof (value as { _tag: unknown })._tag === "string";

/** The exit code for a failure value (a tagged error, a CLI parse error, or anything else). */
export const exitCodeOf = (error: unknown): number => {
  if (!isTagged(error)) return EXIT.bug;
  switch (error._tag) {
    case "LoginRequired":
      return EXIT.login;
    case "Retryable":
      return EXIT.retryable;
    case "NotFound":
      return EXIT.notFound;
    case "InvalidInput":
    case "InvalidAccountRef":
    case "UnrecognizedOption":
    case "DuplicateOption":
    case "MissingOption":
    case "MissingArgument":
    case "UnexpectedArgument":
    case "InvalidValue":
    case "UnknownSubcommand":
    case "ValidationError":
    case "ShowHelp":
      return EXIT.usage;
    case "StoreFailure":
      return EXIT.retryable;
    default:
      return EXIT.bug;
  }
};

/** A one-line message for stderr; never includes secrets because no baton error carries one (I8). */
export const messageOf = (error: unknown): string => {
  if (isTagged(error) && typeof error.message === "string" && error.message !== "") return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
};
