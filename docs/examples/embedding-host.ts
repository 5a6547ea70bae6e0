// A long-running host that needs GitHub tokens for hours, side by side with `baton` CLI processes on the same store.
import { type BatonEvent, createBaton } from "@baton/adapters";
import { LoginRequired, Retryable } from "@baton/core";

export async function main(): Promise<void> {
  const baton = await createBaton({
    prefetch: ["github:work"], // read at start-up, in parallel: the first call has no storage latency
    thresholdMs: 5 * 60_000, // refresh when less than 5 minutes remain (adapted to short lifetimes)
  });
  const unsubscribe = baton.subscribe((event: BatonEvent) => {
    if (event.type === "credentials")
      console.log(`${event.account}: generation ${event.summary.generation} (${event.how})`);
    if (event.type === "background-error")
      console.warn(`${event.account}: background refresh failed: ${event.error.message}`);
  });
  try {
    const token = await baton.accessToken("github:work");
    await fetch("https://api.github.com/user", { headers: { authorization: `Bearer ${token}` } });
  } catch (error) {
    if (error instanceof LoginRequired) console.error(`run: baton login ${error.account}`);
    else if (error instanceof Retryable) console.error(`try again later: ${error.message}`);
    else throw error;
  } finally {
    unsubscribe();
    await baton.close(); // stops timers and watchers, unregisters this host's session
  }
}
