/**
 * Command-line and environment options of the standalone local authorization server (`standalone.ts`). Flags win
 * over environment variables, which win over the defaults of `startAuthorizationServer`.
 *
 *   --port N              BATON_DEVSERVER_PORT             default 0 (a free port)
 *   --access-ttl S        BATON_DEVSERVER_ACCESS_TTL       default 6
 *   --refresh-ttl S       BATON_DEVSERVER_REFRESH_TTL      default 86400
 *   --latency MS          BATON_DEVSERVER_LATENCY_MS       default 0
 *   --device-interval S   BATON_DEVSERVER_DEVICE_INTERVAL  default 5
 *   --client-id ID        BATON_DEVSERVER_CLIENT_ID        default baton-demo
 *   --scopes "A B"        BATON_DEVSERVER_SCOPES           default "openid offline_access profile"
 *   --max-lifetime S      BATON_DEVSERVER_MAX_LIFETIME     default 900: the server always exits after this long
 *   --client-introspection on|off
 *                         BATON_DEVSERVER_CLIENT_INTROSPECTION  default on: the public client may introspect its tokens
 *   --lose-answers N      BATON_DEVSERVER_LOSE_ANSWERS     default 0: the first N token answers are lost after
 *                                                          processing (see lost-answers.ts)
 *   --lose-answer-with W  BATON_DEVSERVER_LOSE_ANSWER_WITH default 502: how they are lost (500, 502, 504,
 *                                                          500-empty, 502-empty, 504-empty, drop)
 */
import { parseArgs } from "node:util";
import type { AuthorizationServerOptions } from "./authorization-server.ts";
import { type LostAnswer, parseLostAnswer } from "./lost-answers.ts";

/** Token answers to lose from the start (before any test could reach the control API). */
export interface InitialLostAnswers {
  readonly count: number;
  readonly answer: LostAnswer;
}

export interface StandaloneOptions {
  readonly server: AuthorizationServerOptions;
  readonly maxLifetimeSeconds: number;
  /** Present only when `--lose-answers` is above 0. */
  readonly lostAnswers?: InitialLostAnswers;
}

export const DEFAULT_MAX_LIFETIME_SECONDS = 900;

/** setTimeout's limit, in seconds. */
const MAX_TIMER_SECONDS = Math.floor(2 ** 31 / 1000) - 1;

const flags = {
  port: "BATON_DEVSERVER_PORT",
  "access-ttl": "BATON_DEVSERVER_ACCESS_TTL",
  "refresh-ttl": "BATON_DEVSERVER_REFRESH_TTL",
  latency: "BATON_DEVSERVER_LATENCY_MS",
  "device-interval": "BATON_DEVSERVER_DEVICE_INTERVAL",
  "client-id": "BATON_DEVSERVER_CLIENT_ID",
  scopes: "BATON_DEVSERVER_SCOPES",
  "max-lifetime": "BATON_DEVSERVER_MAX_LIFETIME",
  "client-introspection": "BATON_DEVSERVER_CLIENT_INTROSPECTION",
  "lose-answers": "BATON_DEVSERVER_LOSE_ANSWERS",
  "lose-answer-with": "BATON_DEVSERVER_LOSE_ANSWER_WITH",
} as const;

type FlagName = keyof typeof flags;

function integerOption(name: FlagName, raw: string | undefined, minimum: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < minimum) {
    throw new RangeError(`--${name} (or ${flags[name]}) must be an integer >= ${minimum}, got "${raw}"`);
  }
  return Number(raw);
}

function onOffOption(name: FlagName, raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  if (raw === "on") return true;
  if (raw === "off") return false;
  throw new RangeError(`--${name} (or ${flags[name]}) must be "on" or "off", got "${raw}"`);
}

function lostAnswersOption(count: number | undefined, how: string | undefined): InitialLostAnswers | undefined {
  let answer: LostAnswer;
  try {
    answer = parseLostAnswer(how ?? "502");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RangeError(`--lose-answer-with (or ${flags["lose-answer-with"]}): ${reason}`);
  }
  return count === undefined || count === 0 ? undefined : { count, answer };
}

/** Parses `argv` (without the node and script paths) and `env`; throws a readable error on bad input. */
export function parseStandaloneOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): StandaloneOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: Object.fromEntries(Object.keys(flags).map((name) => [name, { type: "string" as const }])),
  });
  const raw = (name: FlagName): string | undefined => {
    const flagValue = values[name];
    return typeof flagValue === "string" ? flagValue : env[flags[name]];
  };

  const port = integerOption("port", raw("port"), 0);
  if (port !== undefined && port > 65535) throw new RangeError(`--port must be at most 65535, got ${port}`);
  const maxLifetimeSeconds = integerOption("max-lifetime", raw("max-lifetime"), 1) ?? DEFAULT_MAX_LIFETIME_SECONDS;
  if (maxLifetimeSeconds > MAX_TIMER_SECONDS) {
    throw new RangeError(`--max-lifetime must be at most ${MAX_TIMER_SECONDS} seconds`);
  }

  const accessTokenTtlSeconds = integerOption("access-ttl", raw("access-ttl"), 1);
  const refreshTokenTtlSeconds = integerOption("refresh-ttl", raw("refresh-ttl"), 1);
  const latencyMs = integerOption("latency", raw("latency"), 0);
  const deviceInterval = integerOption("device-interval", raw("device-interval"), 1);
  const clientId = raw("client-id");
  const scopes = raw("scopes");
  const clientIntrospection = onOffOption("client-introspection", raw("client-introspection"));
  const lostAnswers = lostAnswersOption(integerOption("lose-answers", raw("lose-answers"), 0), raw("lose-answer-with"));
  const server: AuthorizationServerOptions = {
    ...(port === undefined ? {} : { port }),
    ...(accessTokenTtlSeconds === undefined ? {} : { accessTokenTtlSeconds }),
    ...(refreshTokenTtlSeconds === undefined ? {} : { refreshTokenTtlSeconds }),
    ...(latencyMs === undefined ? {} : { latencyMs }),
    ...(deviceInterval === undefined ? {} : { deviceInterval }),
    ...(clientId === undefined ? {} : { clientId }),
    ...(scopes === undefined ? {} : { scopes }),
    ...(clientIntrospection === undefined ? {} : { clientIntrospection }),
  };
  return { server, maxLifetimeSeconds, ...(lostAnswers === undefined ? {} : { lostAnswers }) };
}
