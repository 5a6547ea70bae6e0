/**
 * The fast path of a thin client's `baton token REF` (BATON_SERVER set): one GET to the broker with nothing but Node,
 * the access token on stdout — no Effect runtime, no protocol, nothing read or written on this machine — so that it
 * costs about what starting Node does (SPEC §7). It answers every outcome itself, with the exit code and the message
 * the full CLI would give (the classes of the broker's API, @baton/adapters/broker-request), except a BATON_SERVER
 * that is not an address (or a list of them) and a debugging run (BATON_DEBUG=1): those go to the full CLI. With a list
 * of brokers, the request goes to the next one while a broker is unreachable (request.ts), still with nothing but Node.
 */
import {
  askBroker,
  decodeHandOut,
  ERROR_CLASSES,
  parseBrokerAddresses,
  tokenPath,
} from "@baton/adapters/broker-request";

/** Runs `baton token REF` against the broker; the exit code, or `undefined` to hand over to the full CLI. */
export const thinToken = async (ref: string, env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> => {
  const server = env.BATON_SERVER;
  if (server === undefined || server === "" || env.BATON_DEBUG === "1") return undefined;
  const addresses = parseBrokerAddresses(server);
  if ("problem" in addresses) return undefined;
  const token =
    env.BATON_SERVER_TOKEN === undefined || env.BATON_SERVER_TOKEN === "" ? undefined : env.BATON_SERVER_TOKEN;
  const answer = await askBroker(
    { brokers: addresses.map((address) => ({ address })), token },
    tokenPath({ account: ref }),
    decodeHandOut,
  );
  if ("ok" in answer) {
    process.stdout.write(`${answer.ok.access_token}\n`);
    return 0;
  }
  process.stderr.write(`baton: ${answer.problem.message}\n`);
  return ERROR_CLASSES[answer.problem.class].exitCode;
};
