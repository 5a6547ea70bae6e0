/**
 * One HTTP/1.1 exchange over a unix socket, written and read by hand: the request head is sent with
 * `Connection: close` and the answer read to the end, then split into status, headers and body (by `Content-Length`,
 * or `Transfer-Encoding: chunked`, or up to the end). Hand-written rather than Node's HTTP client because that client's
 * first request in a process costs ~6 ms of lazy start-up (measured: 10 ms for the first GET on a unix socket against
 * 3.7 ms for the same bytes over node:net), and a thin client's `baton token` makes exactly one request in a process
 * that lives ~40 ms (SPEC §7: ≤ 1.5 × `node -e 0`). Over TCP, where TLS and proxies come in, Node's client is used.
 */

export interface Exchange {
  readonly status: number;
  /** Header names in lower case; a repeated header keeps its last value. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

/** Why an answer could not be read; `code` as Node's errors have one, for the caller's messages. */
export class ExchangeFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const HEAD_END = Buffer.from("\r\n\r\n");

/** The body of a chunked answer, or `undefined` when the chunks are cut short or malformed. */
const dechunk = (data: Buffer): Buffer | undefined => {
  const parts: Array<Buffer> = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(data.subarray(at, lineEnd).toString("latin1").split(";")[0] ?? "", 16);
    if (!Number.isInteger(size) || size < 0) return undefined;
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (data.length < start + size + 2) return undefined;
    parts.push(data.subarray(start, start + size));
    at = start + size + 2;
  }
};

/** Reads a whole answer (the bytes up to the end of the connection). */
export const parseAnswer = (data: Buffer): Exchange | ExchangeFailure => {
  const headEnd = data.indexOf(HEAD_END);
  if (headEnd < 0) return new ExchangeFailure("ECONNRESET", "the connection ended before the answer's headers");
  const [statusLine = "", ...lines] = data.subarray(0, headEnd).toString("latin1").split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine)?.[1];
  if (status === undefined) return new ExchangeFailure("HPE_INVALID_STATUS", "not an HTTP/1.1 answer");
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const rest = data.subarray(headEnd + HEAD_END.length);
  let body: Buffer | undefined = rest;
  if (headers.get("transfer-encoding")?.toLowerCase().includes("chunked") === true) body = dechunk(rest);
  else if (headers.has("content-length")) {
    const length = Number(headers.get("content-length"));
    body = Number.isInteger(length) && length >= 0 && rest.length >= length ? rest.subarray(0, length) : undefined;
  }
  if (body === undefined) return new ExchangeFailure("ECONNRESET", "the connection ended inside the answer");
  return { status: Number(status), headers, body: body.toString("utf8") };
};

/**
 * Sends `head` (a complete request head, `Connection: close` included) on the unix socket `path` and reads the
 * answer. Rejects with an `ExchangeFailure` or Node's socket error (with its `code`); `connect` and `answer` are the
 * bounds in ms, `maxBytes` the largest answer read.
 */
export const exchangeOverUnixSocket = (
  path: string,
  head: string,
  bounds: { readonly connectMs: number; readonly answerMs: number; readonly maxBytes: number },
  timedOut: (stage: "connect" | "answer") => Error,
): Promise<Exchange> =>
  new Promise((resolve, reject) => {
    const socket = process.getBuiltinModule("node:net").createConnection({ path });
    const chunks: Array<Buffer> = [];
    let size = 0;
    let settled = false;
    const settle = (outcome: Exchange | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(answerTimer);
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const connectTimer = setTimeout(() => settle(timedOut("connect")), bounds.connectMs);
    const answerTimer = setTimeout(() => settle(timedOut("answer")), bounds.answerMs);
    socket.once("connect", () => {
      clearTimeout(connectTimer);
      // Not end(): an HTTP server drops a request whose client half-closes; `Connection: close` makes it close after.
      socket.write(head);
    });
    socket.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > bounds.maxBytes) settle(new ExchangeFailure("ERR_ANSWER_TOO_LARGE", "the answer is too large"));
      else chunks.push(chunk);
    });
    socket.once("end", () => settle(parseAnswer(Buffer.concat(chunks))));
    socket.once("error", (error) => settle(error));
  });
