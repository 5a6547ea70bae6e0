/**
 * One thin client of the broker benchmarks: loads the thin client's request module (the bundle of
 * `@baton/adapters/broker-request`, what `baton token`'s fast path runs), prints READY, then for each line
 * `GO SERVER REF` on stdin asks that broker once for REF's token and prints `DONE <json>`: the absolute time the answer
 * was in (performance.timeOrigin + performance.now(), comparable across processes), whether it was a hand-out, the
 * hand-out's expiry (ms, whole seconds rounded down: the strict reading; the broker's clock is this machine's) and its token's fingerprint. One connection per request,
 * as the CLI makes. Exits when stdin ends, or after 10 minutes.
 * Usage: node thin-barrier.mjs REQUEST_BUNDLE
 */
import { createHash } from "node:crypto";
import { createInterface } from "node:readline";

const [bundle] = process.argv.slice(2);
const giveUp = setTimeout(() => process.exit(3), 600_000);
giveUp.unref();
const { askBroker, decodeHandOut, parseBrokerAddresses, tokenPath } = await import(bundle);
process.stdout.write("READY\n");
for await (const line of createInterface({ input: process.stdin })) {
  const [word, server, ref] = line.split(" ");
  if (word !== "GO") continue;
  const brokers = parseBrokerAddresses(server).map((address) => ({ address }));
  const answer = await askBroker({ brokers, token: undefined }, tokenPath({ account: ref }), decodeHandOut);
  const at = performance.timeOrigin + performance.now();
  const handOut = "ok" in answer ? answer.ok : undefined;
  process.stdout.write(
    `DONE ${JSON.stringify({
      at,
      ok: handOut !== undefined,
      problem: handOut === undefined ? answer.problem.message : undefined,
      expiresAt: handOut === undefined ? undefined : Date.parse(handOut.expires_at),
      fp:
        handOut === undefined ? undefined : createHash("sha256").update(handOut.access_token).digest("hex").slice(0, 8),
    })}\n`,
  );
}
