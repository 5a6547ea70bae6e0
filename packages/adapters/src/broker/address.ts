/**
 * Where a broker (`baton serve`) answers, as a thin client names it in BATON_SERVER (or the facade's `server`):
 *
 *   unix:/ABSOLUTE/PATH        a unix socket on this machine (or mounted into a container)
 *   https://HOST[:PORT]        TCP with TLS (default port 443); the certificate is checked against Node's CAs plus
 *                              NODE_EXTRA_CA_CERTS
 *   http://LOOPBACK:PORT       plain TCP, accepted only for a loopback address (a broker started with
 *                              `--insecure-loopback`): nothing crosses a network in the clear
 *
 * or a comma-separated list of them (`https://b1:8443,https://b2:8443`; unix and TCP may be mixed), the brokers of one
 * store in the order a client asks them (request.ts: the next one only while one is unreachable). A socket path in a
 * list cannot hold a comma; a single address is read whole, exactly as without lists.
 *
 * Loads nothing but Node: the `baton token` fast path parses BATON_SERVER with it.
 */

export type BrokerAddress =
  | { readonly kind: "unix"; readonly path: string; readonly display: string }
  | {
      readonly kind: "https" | "http";
      readonly host: string;
      readonly port: number;
      readonly display: string;
    };

/** Why a text is not a broker address. */
export interface AddressProblem {
  readonly problem: string;
}

/** Host names and literal addresses that never leave the machine. */
export const isLoopbackHost = (host: string): boolean => {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
};

const USAGE = "expected unix:/PATH, https://HOST:PORT, or http://127.0.0.1:PORT for a loopback broker";

/** Parses a broker address; `name` is how the caller calls the setting in messages (e.g. BATON_SERVER). */
export const parseBrokerAddress = (text: string, name = "BATON_SERVER"): BrokerAddress | AddressProblem => {
  if (text.startsWith("unix:")) {
    const path = text.slice("unix:".length);
    if (!path.startsWith("/")) return { problem: `${name}: unix:PATH needs an absolute path, not "${path}"` };
    if (path.includes("\0")) return { problem: `${name}: the socket path holds a NUL byte` };
    return { kind: "unix", path, display: text };
  }
  const url = URL.parse(text);
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) {
    return { problem: `${name}: "${text}" is not a broker address; ${USAGE}` };
  }
  if (url.username !== "" || url.password !== "") {
    return { problem: `${name}: put no user or password in the address; the client token goes in BATON_SERVER_TOKEN` };
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    return { problem: `${name}: "${text}" has a path or query; give only the scheme, host and port` };
  }
  const kind = url.protocol === "https:" ? "https" : "http";
  if (kind === "http" && !isLoopbackHost(url.hostname)) {
    return {
      problem: `${name}: plain http is only for a broker on this machine's loopback; use https://${url.host} (TLS)`,
    };
  }
  const port = url.port === "" ? (kind === "https" ? 443 : 80) : Number(url.port);
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return { kind, host, port, display: `${kind}://${url.host}` };
};

/** A non-empty list of broker addresses, in the order a client asks them. */
export type BrokerAddresses = readonly [BrokerAddress, ...ReadonlyArray<BrokerAddress>];

/**
 * Parses BATON_SERVER (or the facade's `server`): one address, or a comma-separated list of them, whitespace around
 * the commas ignored. An empty item, an address listed twice or any item that is not an address is a problem naming
 * the item by its position (and quoting it where the single address's problem does).
 */
export const parseBrokerAddresses = (text: string, name = "BATON_SERVER"): BrokerAddresses | AddressProblem => {
  if (!text.includes(",")) {
    const address = parseBrokerAddress(text, name);
    return "problem" in address ? address : [address];
  }
  const items = text.split(",").map((item) => item.trim());
  const addresses: Array<BrokerAddress> = [];
  for (const [index, item] of items.entries()) {
    const where = `${name} (address ${index + 1} of ${items.length})`;
    if (item === "") return { problem: `${where}: the item is empty; separate the addresses with one comma each` };
    const address = parseBrokerAddress(item, where);
    if ("problem" in address) return address;
    const earlier = addresses.findIndex((known) => known.display === address.display);
    if (earlier >= 0) {
      return {
        problem: `${where}: ${address.display} is listed twice (also address ${earlier + 1}); name each broker once`,
      };
    }
    addresses.push(address);
  }
  const [first, ...rest] = addresses;
  return first === undefined ? { problem: `${name}: no broker address` } : [first, ...rest];
};
