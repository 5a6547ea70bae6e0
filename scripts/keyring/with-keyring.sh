#!/usr/bin/env bash
# with-keyring.sh CMD ARGS... — runs CMD with a real, unlocked Secret Service (gnome-keyring) on a private D-Bus
# session bus, so the OS-keychain adapter can be tested on a headless Linux machine (CI, containers, SSH).
#
# 1. Installs what is missing (gnome-keyring, libsecret-tools for `secret-tool`, dbus for `dbus-run-session`) with
#    apt-get, quietly and non-interactively (root, or passwordless sudo). Nothing is installed when the commands exist.
# 2. Starts a private session bus with `dbus-run-session` and, inside it, `gnome-keyring-daemon --foreground --unlock
#    --components=secrets` with a random password on stdin. Its keyrings live in a fresh temporary XDG_DATA_HOME, so
#    every run starts from an empty, unlocked "login" collection and never touches the user's real keyring.
# 3. Waits until the daemon owns `org.freedesktop.secrets`, exports what it printed (GNOME_KEYRING_CONTROL...), runs
#    CMD, then stops the daemon, deletes the temporary keyrings and exits with CMD's status. The bus ends with CMD.
#    TERM/INT/HUP sent to this script are forwarded to CMD, and the same cleanup follows.
#
# One line on stderr says what it did. Environment: WITH_KEYRING_QUIET=1 silences that line.
set -euo pipefail
# Some CI runners start jobs with standard input closed: give the command /dev/null instead.
if ! (exec 3<&0) 2>/dev/null; then exec </dev/null; fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
note() { [ "${WITH_KEYRING_QUIET:-}" = "1" ] || printf 'with-keyring: %s\n' "$*" >&2; }
die() { printf 'with-keyring: %s\n' "$*" >&2; exit 125; }
now_ms() { local ns; ns=$(date +%s%N); echo $((ns / 1000000)); }

# ---------------------------------------------------------------------------------------------------- inside the bus
if [ "${1:-}" = "--inside-session" ]; then
  shift
  started=$(now_ms)
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/baton-keyring.XXXXXX")"
  mkdir -m 700 "$tmp/data" "$tmp/run"
  daemon=""
  cleanup() {
    if [ -n "$daemon" ]; then
      kill "$daemon" 2>/dev/null || true
      wait "$daemon" 2>/dev/null || true
    fi
    rm -rf "$tmp"
  }
  trap cleanup EXIT
  [ -z "${WITH_KEYRING_STATE:-}" ] || echo "$$" >"$WITH_KEYRING_STATE/inner.pid"
  trap 'exit 130' INT
  trap 'exit 143' TERM

  password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  printf '%s' "$password" |
    XDG_DATA_HOME="$tmp/data" XDG_RUNTIME_DIR="$tmp/run" \
      gnome-keyring-daemon --foreground --unlock --components=secrets >"$tmp/daemon.out" 2>"$tmp/daemon.err" &
  daemon=$!
  unset password

  ready=""
  for _ in $(seq 1 500); do
    owner="$(dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus / \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null || true)"
    case "$owner" in *true*) ready=1; break ;; esac
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.01
  done
  if [ -z "$ready" ]; then
    cat "$tmp/daemon.err" >&2 || true
    die "gnome-keyring-daemon did not take the name org.freedesktop.secrets (its errors, if any, are above)"
  fi

  # What the daemon prints (VAR=value lines) is exported to CMD; the control socket is named even when it prints none.
  while IFS= read -r line; do
    case "$line" in [A-Z_]*=*) export "${line?}" ;; esac
  done <"$tmp/daemon.out"
  if [ -z "${GNOME_KEYRING_CONTROL:-}" ] && [ -d "$tmp/run/keyring" ]; then export GNOME_KEYRING_CONTROL="$tmp/run/keyring"; fi

  note "gnome-keyring ready on a private D-Bus session in $(($(now_ms) - started)) ms${WITH_KEYRING_INSTALLED:+ (installed: $WITH_KEYRING_INSTALLED)}; running: $*"
  unset WITH_KEYRING_INSTALLED WITH_KEYRING_STATE
  # CMD runs as a background job so that signals reach this shell at once and are forwarded; the daemon is stopped
  # and the keyrings deleted when CMD ends, however it ends. A non-interactive shell would start the job with stdin
  # from /dev/null and SIGINT/SIGQUIT ignored: stdin is passed on explicitly and the signals are reset.
  exec 3<&0
  (
    trap - INT QUIT
    exec "$@" <&3 3<&-
  ) &
  child=$!
  exec 3<&-
  trap 'kill -TERM "$child" 2>/dev/null || true' TERM
  trap 'kill -INT "$child" 2>/dev/null || true' INT
  trap 'kill -HUP "$child" 2>/dev/null || true' HUP
  while kill -0 "$child" 2>/dev/null; do wait "$child" || true; done
  set +e
  wait "$child"
  status=$?
  set -e
  exit "$status"
fi

# -------------------------------------------------------------------------------------------------------- outside
[ "$#" -gt 0 ] || die "usage: with-keyring.sh CMD [ARGS...]"

missing=()
command -v gnome-keyring-daemon >/dev/null 2>&1 || missing+=(gnome-keyring)
command -v secret-tool >/dev/null 2>&1 || missing+=(libsecret-tools)
{ command -v dbus-run-session >/dev/null 2>&1 && command -v dbus-send >/dev/null 2>&1; } || missing+=(dbus)

if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them; install them yourself"
  if [ "$(id -u)" = "0" ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    die "missing ${missing[*]}; run as root or with passwordless sudo, or: apt-get install ${missing[*]}"
  fi
  log="$(mktemp "${TMPDIR:-/tmp}/with-keyring-apt.XXXXXX")"
  apt_install() {
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      </dev/null >>"$log" 2>&1
  }
  # The package lists may be missing or stale on a fresh CI image: update once and retry.
  if ! apt_install; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >>"$log" 2>&1 || true
    apt_install || { tail -n 20 "$log" >&2; rm -f "$log"; die "apt-get install ${missing[*]} failed"; }
  fi
  rm -f "$log"
  export WITH_KEYRING_INSTALLED="${missing[*]}"
fi

# dbus-run-session does not forward signals: a SIGTERM to it would leave the session, the daemon and CMD running.
# So it runs as a job of this shell, which forwards TERM/INT/HUP to the inner shell (which forwards them to CMD).
state="$(mktemp -d "${TMPDIR:-/tmp}/with-keyring.XXXXXX")"
export WITH_KEYRING_STATE="$state"
session=""
forward() {
  local target
  target="$(cat "$state/inner.pid" 2>/dev/null || true)"
  target="${target:-$session}"
  [ -z "$target" ] || kill -"$1" "$target" 2>/dev/null || true
}
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward HUP' HUP
exec 3<&0
# dbus-daemon as root in a container warns that it cannot raise its fd limit; quiet-dbus-daemon.sh drops that line.
(
  trap - INT QUIT
  exec dbus-run-session --dbus-daemon="$here/quiet-dbus-daemon.sh" -- "$here/with-keyring.sh" --inside-session "$@" <&3 3<&-
) &
session=$!
exec 3<&-
while kill -0 "$session" 2>/dev/null; do wait "$session" || true; done
set +e
wait "$session"
status=$?
set -e
rm -rf "$state"
exit "$status"
