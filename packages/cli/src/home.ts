/**
 * Where baton keeps its state: `BATON_HOME` when set, else the OS convention — `$XDG_STATE_HOME/baton` (default
 * `~/.local/state/baton`) on Linux and other Unixes, `~/Library/Application Support/baton` on macOS,
 * `%LOCALAPPDATA%\baton` on Windows.
 */
import { homedir, platform } from "node:os";
import { join } from "node:path";

export const resolveHome = (env: NodeJS.ProcessEnv = process.env): string => {
  if (env.BATON_HOME !== undefined && env.BATON_HOME !== "") return env.BATON_HOME;
  const home = homedir();
  switch (platform()) {
    case "darwin":
      return join(home, "Library", "Application Support", "baton");
    case "win32":
      return join(env.LOCALAPPDATA ?? join(home, "AppData", "Local"), "baton");
    default:
      return join(env.XDG_STATE_HOME ?? join(home, ".local", "state"), "baton");
  }
};
