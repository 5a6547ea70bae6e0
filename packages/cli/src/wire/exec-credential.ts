/**
 * kubectl's exec credential plugin protocol (client-go, `client.authentication.k8s.io`): kubectl runs the plugin
 * with `KUBERNETES_EXEC_INFO` set to an ExecCredential carrying the API version it speaks (and `spec.interactive`),
 * and reads an ExecCredential on stdout:
 *
 *   {"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
 *    "status":{"token":"…","expirationTimestamp":"2026-12-04T18:43:00Z"}}
 *
 * client-go caches the token until `expirationTimestamp` (RFC 3339), then runs the plugin again. v1 and v1beta1
 * have this same shape; any other version is refused with a message naming it.
 */

export const SUPPORTED_API_VERSIONS = [
  "client.authentication.k8s.io/v1",
  "client.authentication.k8s.io/v1beta1",
] as const;
export type ExecApiVersion = (typeof SUPPORTED_API_VERSIONS)[number];

const DEFAULT_API_VERSION: ExecApiVersion = "client.authentication.k8s.io/v1";

/** The API version to answer in, from `KUBERNETES_EXEC_INFO` (absent: v1), or the problem with it. */
export const execApiVersion = (execInfo: string | undefined): ExecApiVersion | { readonly problem: string } => {
  if (execInfo === undefined || execInfo.trim() === "") return DEFAULT_API_VERSION;
  let parsed: unknown;
  try {
    parsed = JSON.parse(execInfo);
  } catch {
    return { problem: "KUBERNETES_EXEC_INFO is not JSON" };
  }
  const version =
    typeof parsed === "object" && parsed !== null && "apiVersion" in parsed ? parsed.apiVersion : undefined;
  if (typeof version !== "string") return { problem: "KUBERNETES_EXEC_INFO: apiVersion is missing" };
  if (!(SUPPORTED_API_VERSIONS as ReadonlyArray<string>).includes(version)) {
    return {
      problem:
        `KUBERNETES_EXEC_INFO: apiVersion "${version.slice(0, 80)}" is not supported; set the kubeconfig's ` +
        `users[].user.exec.apiVersion to ${SUPPORTED_API_VERSIONS.join(" or ")}`,
    };
  }
  return version as ExecApiVersion;
};

export interface ExecCredential {
  readonly apiVersion: ExecApiVersion;
  readonly kind: "ExecCredential";
  readonly status: { readonly token: string; readonly expirationTimestamp: string };
}

export const execCredential = (
  apiVersion: ExecApiVersion,
  token: string,
  expirationTimestamp: string,
): ExecCredential => ({
  apiVersion,
  kind: "ExecCredential",
  status: { token, expirationTimestamp },
});

export const formatExecCredential = (value: ExecCredential): string => `${JSON.stringify(value)}\n`;
