/**
 * Property tests of the refresh protocol (SPEC §1): 2–16 concurrent clients, interleavings chosen by fast-check's
 * scheduler, lock leases taken over (two holders at once), clients crashing at every protocol point, 5xx answers,
 * answers lost after the server rotated, and families revoked by the provider. I1, I2, I4, I6, I9 and liveness must
 * hold in every run; each deliberately broken protocol must be caught with a counterexample.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Mutation } from "./support/broken-protocols.ts";
import { runScenario, type Scenario } from "./support/simulation.ts";

const RUNS = Number(process.env.BATON_PROPERTY_RUNS ?? 150);

const point = fc.constantFrom("locked", "claimed", "presenting", "answered", "persisted" as const);
const scenario = (options: { faults: boolean }): fc.Arbitrary<Scenario> =>
  fc.record({
    clients: fc.integer({ min: 2, max: 16 }),
    graceWindowSeconds: fc.constantFrom(0, 0, 30),
    faults: options.faults
      ? fc.array(fc.constantFrom("none", "none", "server-error", "lost-answer" as const), { maxLength: 6 })
      : fc.constant([]),
    crashes: options.faults
      ? fc.array(fc.record({ client: fc.nat({ max: 15 }), point }), { maxLength: 3 })
      : fc.constant([]),
    steals: options.faults ? fc.array(fc.boolean(), { maxLength: 8 }) : fc.constant([]),
    adminRevokes: options.faults ? fc.boolean() : fc.constant(false),
    introspection: fc.boolean(),
    relogin: options.faults ? fc.boolean() : fc.constant(false),
  });

const holds = (mutation: Mutation | undefined, faults: boolean) =>
  fc.asyncProperty(scenario({ faults }), fc.scheduler(), async (sc, s) => {
    const report = await runScenario(sc, s, mutation);
    if (report.violations.length > 0) throw new Error(report.violations.join("; "));
  });

/** Runs a broken protocol; returns the shrunk counterexample's violations, or undefined if none was found. */
const counterexample = async (mutation: Mutation) => {
  const result = await fc.check(holds(mutation, true), { numRuns: 400, seed: 4242 });
  if (!result.failed) return undefined;
  const message = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
  return { runs: result.numRuns, message, example: JSON.stringify(result.counterexample?.[0]) };
};

describe("refresh protocol under concurrency", () => {
  it("herd - should present each generation once and hand every client the new token, fault-free", async () => {
    await fc.assert(holds(undefined, false), { numRuns: RUNS });
  });

  it("faults - should keep I1, I2, I4, I6, I9 with takeovers, crashes, 5xx, lost answers and revoked families", async () => {
    await fc.assert(holds(undefined, true), { numRuns: RUNS * 2 });
  });

  it("broken protocol without the claim - should be caught presenting a generation twice", async () => {
    const found = await counterexample("no-claim");
    console.info("counterexample (no claim):", found);
    expect(found?.message).toMatch(/I1/);
  });

  it("broken protocol without the re-read under the lock - should be caught leaving clients without the new token", async () => {
    const found = await counterexample("no-reread");
    console.info("counterexample (no re-read under lock):", found);
    expect(found?.message).toMatch(/liveness|I1|I4/);
  });

  it("broken protocol that blanks on invalid_grant - should be caught deleting credentials", async () => {
    const found = await counterexample("blank-on-invalid-grant");
    console.info("counterexample (blank on invalid_grant):", found);
    expect(found?.message).toMatch(/I4/);
  });

  it("broken protocol that revokes on invalid_grant without re-reading - should be caught logging out a live login", async () => {
    const found = await counterexample("revoke-without-reread");
    console.info("counterexample (revoke without re-read):", found);
    expect(found?.message).toMatch(/I4/);
  });

  it("broken protocol over a secret store without compare-and-set - should be caught overwriting a generation", async () => {
    const found = await counterexample("blind-write");
    console.info("counterexample (no compare-and-set):", found);
    expect(found?.message).toMatch(/I2/);
  });
});
