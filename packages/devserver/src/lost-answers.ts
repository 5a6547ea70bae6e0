/**
 * Token endpoint answers lost the way a gateway loses them: oidc-provider has processed the request (a refresh token
 * is consumed and its successor stored) but the client never sees that answer. Instead it gets what a reverse proxy
 * in front of a real server sends when the upstream answer went missing — a 500, 502 or 504 with the proxy's own HTML
 * page or an empty body — or the connection is closed under it (the socket destroyed after processing).
 *
 * This is the fault that makes a refresh *in doubt* (SPEC §3 step 7, I9): the rotation happened at the server, and
 * nothing in the answer says so. Faults that refuse a request before processing are `failNext` in
 * token-endpoint-controls.ts.
 *
 * The same short vocabulary names a lost answer in the control API (`with=`) and the standalone options
 * (`--lose-answer-with`): `500`, `502`, `504` (HTML page), `500-empty`, `502-empty`, `504-empty`, `drop`.
 */
import type { KoaContextWithOIDC } from "oidc-provider";

/** The statuses a gateway answers with when it lost the upstream's answer. */
export const GATEWAY_STATUSES = [500, 502, 504] as const;
export type GatewayStatus = (typeof GATEWAY_STATUSES)[number];

/** How the answer is lost: replaced by a gateway error (HTML page by default, or empty), or the connection dropped. */
export type LostAnswer = { readonly status: GatewayStatus; readonly body?: "html" | "empty" } | { readonly drop: true };

const REASON_PHRASES: Readonly<Record<GatewayStatus, string>> = {
  500: "Internal Server Error",
  502: "Bad Gateway",
  504: "Gateway Time-out",
};

function isGatewayStatus(status: number): status is GatewayStatus {
  return GATEWAY_STATUSES.some((candidate) => candidate === status);
}

/** Checks a lost answer given from code; throws a RangeError naming the problem. */
export function validateLostAnswer(answer: LostAnswer): LostAnswer {
  if ("drop" in answer) {
    if (answer.drop !== true) throw new RangeError("a dropped answer must say { drop: true }");
    return answer;
  }
  if (!isGatewayStatus(answer.status)) {
    throw new RangeError(`a lost answer's status must be one of ${GATEWAY_STATUSES.join(", ")}, got ${answer.status}`);
  }
  if (answer.body !== undefined && answer.body !== "html" && answer.body !== "empty") {
    throw new RangeError(`a lost answer's body must be "html" or "empty", got ${String(answer.body)}`);
  }
  return answer;
}

/** Parses the short form (`502`, `502-empty`, `drop`); throws a RangeError naming the accepted forms. */
export function parseLostAnswer(text: string): LostAnswer {
  if (text === "drop") return { drop: true };
  const match = /^(\d{3})(-empty)?$/.exec(text);
  const status = match === null ? Number.NaN : Number(match[1]);
  if (match === null || !isGatewayStatus(status)) {
    throw new RangeError(
      `a lost answer is one of 500, 502, 504, 500-empty, 502-empty, 504-empty or drop, got "${text}"`,
    );
  }
  return { status, body: match[2] === undefined ? "html" : "empty" };
}

/** The error page nginx sends for these statuses, which is what clients of many real providers receive. */
function gatewayPage(status: GatewayStatus): string {
  const title = `${status} ${REASON_PHRASES[status]}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

/**
 * Replaces the answer oidc-provider produced for this (already processed) request. Its headers go too: a gateway
 * answers with its own. For a drop, Koa is told not to respond and the socket is destroyed.
 */
export function loseAnswer(ctx: KoaContextWithOIDC, answer: LostAnswer): void {
  if ("drop" in answer) {
    ctx.respond = false;
    ctx.socket.destroy();
    return;
  }
  for (const name of Object.keys(ctx.response.headers)) ctx.remove(name);
  ctx.status = answer.status;
  if (answer.body === "empty") {
    ctx.body = "";
    return;
  }
  ctx.type = "text/html";
  ctx.body = gatewayPage(answer.status);
}
