/**
 * fast-check arbitraries of token endpoint answers for the refresh-grant property suite, each with the outcome the
 * adapter must reach: a TokenSet for valid answers, otherwise the `TokenEndpointFailure` reason and `processed`.
 * Every body is sprinkled with token-like strings (and may echo the presented refresh token) so the suite can check
 * that no message ever carries one.
 */
import fc from "fast-check";

export const REQUESTED_SCOPE = "openid profile email";

export type Behaviour =
  | {
      readonly _tag: "answer";
      readonly status: number;
      readonly headers: Record<string, string>;
      readonly body: string;
    }
  | { readonly _tag: "cut"; readonly status: number; readonly partialBody: string }
  | { readonly _tag: "reset-before-answer" }
  | { readonly _tag: "hang" };

export interface Expected {
  readonly reason: string;
  readonly processed: "no" | "yes" | "unknown";
  readonly status?: number;
  readonly retryAfterMs?: number | "date";
}

/**
 * A 200 answer with something wrong in it: `salvaged` — it carries a usable new refresh token, so the rotation must be
 * kept (tokens returned, the problem flagged in `withheld` or `problems`); `salvaged-or-malformed` — no refresh token,
 * so either is acceptable, but never unflagged.
 */
export type Salvage = "salvaged" | "salvaged-or-malformed";

export interface AnswerCase {
  readonly label: string;
  readonly behaviour: Behaviour;
  /** `undefined` when the answer is valid: the adapter must return these tokens. */
  readonly expected: Expected | Salvage | undefined;
  readonly body?: Record<string, unknown>;
  /** Strings that must never appear in an error. */
  readonly secrets: ReadonlyArray<string>;
}

const TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".split("");
export const tokenLike = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 32, maxLength: 64 });

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Behaviour => ({
  _tag: "answer",
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

const validBody = fc.record(
  {
    access_token: tokenLike,
    token_type: fc.constantFrom("Bearer", "bearer", "BEARER"),
    expires_in: fc.integer({ min: 0, max: 10_000_000 }),
    refresh_token: tokenLike,
    scope: fc.subarray(REQUESTED_SCOPE.split(" "), { minLength: 1 }).map((parts) => parts.join(" ")),
    id_ignored: tokenLike,
  },
  { requiredKeys: ["access_token", "token_type"] },
);

const valid = validBody.map(
  (body): AnswerCase => ({ label: "valid 200", behaviour: json(200, body), expected: undefined, body, secrets: [] }),
);

const badValues: Record<string, ReadonlyArray<unknown>> = {
  access_token: [undefined, 42, null, {}, [], "", true, "has space", "new\nline"],
  token_type: [undefined, "mac", 5, "", null, "DPoP-ish"],
  expires_in: ["abc", -1, 1e308, 1e12, true, {}, null, Number.MAX_SAFE_INTEGER],
  refresh_token: [5, "", {}, null, "tab\tinside"],
  scope: [5, ["openid"], {}],
};

const malformed = fc
  .tuple(validBody, fc.constantFrom(...Object.keys(badValues)), fc.nat())
  .map(([body, field, pick]): AnswerCase => {
    const choices = badValues[field] ?? [undefined];
    const value = choices[pick % choices.length];
    const mutated: Record<string, unknown> = { ...body };
    if (value === undefined) delete mutated[field];
    else mutated[field] = value;
    const expected: Expected | Salvage =
      field === "refresh_token"
        ? { reason: "malformed_response", processed: "unknown", status: 200 }
        : mutated.refresh_token !== undefined
          ? "salvaged"
          : "salvaged-or-malformed";
    return {
      label: `200 with bad ${field}`,
      behaviour: json(200, mutated),
      expected,
      body: mutated,
      secrets: [body.access_token, ...(body.refresh_token === undefined ? [] : [body.refresh_token])],
    };
  });

const wider = fc.tuple(validBody, fc.constantFrom("admin", "write:all", "offline_access")).map(
  ([body, extra]): AnswerCase => ({
    label: "200 with a wider scope",
    behaviour: json(200, { ...body, scope: `${REQUESTED_SCOPE} ${extra}` }),
    expected: "salvaged",
    body: { ...body, scope: `${REQUESTED_SCOPE} ${extra}` },
    secrets: [body.access_token, ...(body.refresh_token === undefined ? [] : [body.refresh_token])],
  }),
);

const notJson = fc
  .tuple(
    fc.oneof(
      fc.string(),
      fc.constantFrom("", "null", "[]", "[1,2]", '"text"', "{", "<html><body>ok</body></html>", "42"),
      tokenLike.map((t) => `{"access_token":"${t}","token_type":"Bearer"`),
    ),
    fc.constantFrom("application/json", "text/html", "text/plain"),
  )
  .map(
    ([body, type]): AnswerCase => ({
      label: "200 that is not a JSON object",
      behaviour: { _tag: "answer", status: 200, headers: { "content-type": type }, body },
      expected: { reason: "malformed_response", processed: "unknown", status: 200 },
      secrets: [],
    }),
  );

const ERROR_CODES: Record<string, Pick<Expected, "reason" | "processed">> = {
  invalid_grant: { reason: "invalid_grant", processed: "yes" },
  invalid_client: { reason: "invalid_client", processed: "yes" },
  invalid_request: { reason: "oauth_error", processed: "yes" },
  unauthorized_client: { reason: "oauth_error", processed: "yes" },
  unsupported_grant_type: { reason: "oauth_error", processed: "yes" },
  invalid_scope: { reason: "oauth_error", processed: "yes" },
  temporarily_unavailable: { reason: "server_error", processed: "no" },
};

/** `presented` is filled in by the test: the refresh token it sends, which a server may echo back. */
export const ECHO = "%PRESENTED%";

const oauthError = fc
  .tuple(
    fc.constantFrom(400, 401, 403),
    fc.constantFrom(...Object.keys(ERROR_CODES), "token-like"),
    tokenLike,
    fc.constantFrom("application/json", "text/plain", "application/json; charset=utf-8"),
    fc.boolean(),
    fc.constantFrom("", `the token ${ECHO} was rejected`, "bad token: "),
  )
  .map(([status, code, secret, type, challenge, description]): AnswerCase => {
    const error = code === "token-like" ? secret : code;
    return {
      label: `${status} ${code}`,
      behaviour: json(
        status,
        { error, error_description: `${description}${secret}` },
        { "content-type": type, ...(challenge ? { "www-authenticate": 'Basic realm="token"' } : {}) },
      ),
      expected: { ...(ERROR_CODES[code] ?? { reason: "oauth_error", processed: "yes" }), status },
      secrets: [secret],
    };
  });

const otherStatus = (status: number, body: string): Behaviour => ({
  _tag: "answer",
  status,
  headers: { "content-type": "text/html" },
  body,
});

const non200 = fc
  .tuple(fc.integer({ min: 201, max: 999 }), fc.string(), tokenLike)
  .map(([status, text, secret]): AnswerCase => {
    const body = `${text} ${secret}`;
    const expected: Expected =
      status === 429
        ? { reason: "rate_limited", processed: "no", status }
        : status === 408 || status === 503
          ? { reason: "server_error", processed: "no", status }
          : status >= 500 && status <= 599
            ? { reason: "server_error", processed: "unknown", status }
            : status >= 600
              ? { reason: "malformed_response", processed: "unknown" }
              : status === 401
                ? { reason: "invalid_client", processed: "yes", status }
                : status >= 400
                  ? { reason: "oauth_error", processed: "yes", status }
                  : status >= 300
                    ? { reason: "oauth_error", processed: "no", status }
                    : { reason: "malformed_response", processed: "unknown", status };
    return { label: `HTTP ${status}`, behaviour: otherStatus(status, body), expected, secrets: [secret] };
  });

const rateLimited = fc
  .oneof(
    fc.integer({ min: 0, max: 100_000 }).map((s) => [String(s), s * 1000] as const),
    fc.integer({ min: 5, max: 3600 }).map((s) => [new Date(Date.now() + s * 1000).toUTCString(), "date"] as const),
    fc.constantFrom(["soon", undefined] as const, ["-5", undefined] as const, ["1.5", undefined] as const),
  )
  .map(
    ([header, ms]): AnswerCase => ({
      label: `429 Retry-After ${header}`,
      behaviour: json(429, { error: "slow down" }, { "retry-after": header }),
      expected: {
        reason: "rate_limited",
        processed: "no",
        status: 429,
        ...(ms === undefined ? {} : { retryAfterMs: typeof ms === "number" ? Math.min(ms, 86_400_000) : ms }),
      },
      secrets: [],
    }),
  );

const cut = validBody.map(
  (body): AnswerCase => ({
    label: "connection reset mid-answer",
    behaviour: { _tag: "cut", status: 200, partialBody: JSON.stringify(body).slice(0, 20) },
    expected: { reason: "timeout", processed: "unknown" },
    secrets: [body.access_token],
  }),
);

const resetBefore = fc.constant<AnswerCase>({
  label: "connection reset before any answer",
  behaviour: { _tag: "reset-before-answer" },
  expected: { reason: "timeout", processed: "unknown" },
  secrets: [],
});

const hang = fc.constant<AnswerCase>({
  label: "no answer (timeout)",
  behaviour: { _tag: "hang" },
  expected: { reason: "timeout", processed: "unknown" },
  secrets: [],
});

export const answerCase: fc.Arbitrary<AnswerCase> = fc.oneof(
  { arbitrary: valid, weight: 3 },
  { arbitrary: malformed, weight: 4 },
  { arbitrary: wider, weight: 1 },
  { arbitrary: notJson, weight: 2 },
  { arbitrary: oauthError, weight: 3 },
  { arbitrary: non200, weight: 3 },
  { arbitrary: rateLimited, weight: 2 },
  { arbitrary: cut, weight: 1 },
  { arbitrary: resetBefore, weight: 1 },
  { arbitrary: hang, weight: 1 },
);
