/**
 * docker's credential helper protocol (docker-credential-helpers): docker runs `docker-credential-NAME ACTION`.
 * `get` reads the bare server URL on stdin and prints `{"ServerURL","Username","Secret"}`; `list` prints
 * `{SERVER: USERNAME}`; `store` reads `{"ServerURL","Username","Secret"}` and `erase` a server URL. A server the
 * helper knows nothing about is exit 1 with exactly `credentials not found in native keychain` on stdout, which docker
 * recognizes (it then goes on without credentials). Any other failure: exit 1 and the message on stdout.
 */

export const CREDENTIALS_NOT_FOUND = "credentials not found in native keychain";

export interface DockerCredential {
  readonly ServerURL: string;
  readonly Username: string;
  readonly Secret: string;
}

export const formatDockerCredential = (value: DockerCredential): string => `${JSON.stringify(value)}\n`;

export const formatDockerList = (entries: ReadonlyArray<{ readonly host: string; readonly username: string }>) =>
  `${JSON.stringify(Object.fromEntries(entries.map((entry) => [entry.host, entry.username])))}\n`;
