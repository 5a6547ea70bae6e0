/**
 * Shared helpers of the keychain tests: whether a real keychain is usable here (via the adapter's own `probe`), the
 * skip-or-fail gate, throw-away stores under a unique service name (every item deleted afterwards), and the probe
 * fixture run in a child process with a chosen session bus.
 *
 * Gate: without a usable keychain the keychain tests are reported as skipped, with the probe's message as the note.
 * With BATON_REQUIRE_KEYCHAIN=1 they are never skipped, so they fail (CI runs them under
 * scripts/keyring/with-keyring.sh with that variable set and cannot silently lose them).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { AsyncEntry, findCredentialsAsync } from "@napi-rs/keyring";
import { Cause, Effect, Exit } from "effect";
import { layer, probe } from "../../src/keychain/secret-store.ts";
import type { ContractStore } from "../contract/secret-store-contract.ts";

export const keychainRequired = process.env.BATON_REQUIRE_KEYCHAIN === "1";

/** `undefined` when a keychain is usable here, else the probe's explanation. */
export const keychainProblem = async (): Promise<string | undefined> => {
  const exit = await Effect.runPromiseExit(probe({ timeoutMs: 10_000 }));
  if (Exit.isSuccess(exit)) return undefined;
  const error = Cause.squash(exit.cause);
  return error instanceof Error ? error.message : String(error);
};

export interface KeychainGate {
  /** Skip keychain tests with this note (no keychain, not required). */
  readonly skipReason: string | undefined;
  /** Fail keychain tests with this message (no keychain, but BATON_REQUIRE_KEYCHAIN=1). */
  readonly failReason: string | undefined;
}

/** What to do with keychain tests given the probe's outcome. */
export const gateFor = (problem: string | undefined): KeychainGate => {
  if (problem === undefined) return { skipReason: undefined, failReason: undefined };
  if (keychainRequired) {
    return { skipReason: undefined, failReason: `BATON_REQUIRE_KEYCHAIN=1 but no usable keychain: ${problem}` };
  }
  return {
    skipReason: `no usable keychain (${problem}); run under scripts/keyring/with-keyring.sh (BATON_REQUIRE_KEYCHAIN=1 turns this skip into a failure)`,
    failReason: undefined,
  };
};

/** The same pinning as the adapter (Secret Service on Linux, never the in-memory kernel keyring). */
export const entry = (service: string, key: string): AsyncEntry =>
  new AsyncEntry(service, key, { linux: { store: "secret-service" } });

/** A service name no other test or user item shares. */
export const uniqueService = (): string => `baton-test-${randomBytes(5).toString("hex")}`;

/** Deletes every item of `service` (account or not). */
export const deleteService = async (service: string): Promise<void> => {
  for (const credential of await findCredentialsAsync(service)) {
    await entry(service, credential.account).deleteCredential();
  }
};

/** A keychain store under a unique service, for the contract. */
export const makeKeychainStore = async (): Promise<ContractStore> => {
  const service = uniqueService();
  return { layer: layer({ service, timeoutMs: 15_000 }), cleanup: () => deleteService(service) };
};

export interface ProbeOutcome {
  readonly ok: boolean;
  readonly reason?: string;
  readonly message?: string;
  /** The probe's own duration inside the child. */
  readonly ms: number;
  /** Wall time of the whole child process, start-up included. */
  readonly wallMs: number;
}

/** Runs fixtures/probe.ts in a child process with `DBUS_SESSION_BUS_ADDRESS` set to `busAddress`. */
export const probeInChild = (busAddress: string, timeoutMs: number): Promise<ProbeOutcome> => {
  const script = fileURLToPath(new URL("./fixtures/probe.ts", import.meta.url));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", script, String(timeoutMs)], {
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: busAddress },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve({ ...(JSON.parse(line) as Omit<ProbeOutcome, "wallMs">), wallMs: performance.now() - started });
      } catch {
        reject(new Error(`the probe child exited with ${code} and printed no result: ${stderr.slice(0, 500)}`));
      }
    });
  });
};
