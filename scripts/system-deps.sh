#!/usr/bin/env bash
# system-deps.sh — makes sure the Debian packages the test suite runs are installed, and installs the missing ones.
#
#   faketime          libfaketime, for child processes whose wall clock is shifted (test/support/faketime.ts)
#   postgresql-15     the server binaries under /usr/lib/postgresql/15/bin, for throwaway clusters (test/support/postgres.ts)
#   chromium          headless Chromium at /usr/bin/chromium (test/support/browser.ts)
#   iproute2          `ip` and `tc`, for network namespaces (test/support/netns.ts)
#   openssl           `openssl req`, for the TLS certificate a broker test makes at run time (test/serve/)
#   gnome-keyring, libsecret-tools, dbus   the private Secret Service of scripts/keyring/with-keyring.sh (which checks
#                     them again on its own, so it also works alone)
#
# When everything is present it only looks at a few paths and exits 0 (a few milliseconds). Otherwise it runs
# `apt-get update` once and `apt-get install --no-install-recommends` for what is missing, as root or with
# passwordless sudo, waiting for a dpkg lock held by another apt run; concurrent runs of this script take turns.
# Installing PostgreSQL does not create or start the distribution's default cluster (tests start their own).
# It exits non-zero with a message saying what is missing and why it could not be installed.
#
# One line on stderr says what it did; SYSTEM_DEPS_QUIET=1 silences it when nothing was installed.
set -euo pipefail

note() { printf 'system-deps: %s\n' "$*" >&2; }
die() {
  note "$*"
  exit 1
}
now_ms() {
  local ns
  ns=$(date +%s%N)
  echo $((ns / 1000000))
}
started=$(now_ms)

# ------------------------------------------------------------------------------------------- what is missing
has() { command -v "$1" >/dev/null 2>&1; }
has_any() {
  local path
  for path in "$@"; do [ -e "$path" ] && return 0; done
  return 1
}

missing_packages() {
  local missing=()
  # The library is what tests preload; Debian puts it under the multiarch directory of the machine.
  has_any /usr/lib/*/faketime/libfaketime.so.1 || missing+=(faketime)
  { [ -x /usr/lib/postgresql/15/bin/initdb ] && [ -x /usr/lib/postgresql/15/bin/pg_ctl ] &&
    [ -x /usr/lib/postgresql/15/bin/postgres ]; } || missing+=(postgresql-15)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  { has ip && has tc; } || missing+=(iproute2)
  has openssl || missing+=(openssl)
  has gnome-keyring-daemon || missing+=(gnome-keyring)
  has secret-tool || missing+=(libsecret-tools)
  { has dbus-run-session && has dbus-send; } || missing+=(dbus)
  echo "${missing[*]}"
}

read -r -a missing <<<"$(missing_packages)"
if [ "${#missing[@]}" -eq 0 ]; then
  [ "${SYSTEM_DEPS_QUIET:-}" = "1" ] || note "all present ($(($(now_ms) - started)) ms)"
  exit 0
fi

# ------------------------------------------------------------------------------------------------ installing
has apt-get || die "missing ${missing[*]} and there is no apt-get to install them; install them with the system's package manager"
if [ "$(id -u)" = "0" ]; then
  sudo=()
elif has sudo && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  die "missing ${missing[*]}; run the tests as root or with passwordless sudo, or install them: apt-get install ${missing[*]}"
fi

# Concurrent runs (several test commands on one machine) take turns; the second finds everything present.
lock_file="${TMPDIR:-/tmp}/baton-system-deps.lock"
exec 9>"$lock_file"
if has flock; then flock 9; fi
read -r -a missing <<<"$(missing_packages)"
if [ "${#missing[@]}" -eq 0 ]; then
  note "all present after waiting for another run ($(($(now_ms) - started)) ms)"
  exit 0
fi

log="$(mktemp "${TMPDIR:-/tmp}/system-deps-apt.XXXXXX")"
trap 'rm -f "$log"' EXIT
apt() {
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@" </dev/null >>"$log" 2>&1
}
fail_with_log() {
  tail -n 25 "$log" >&2
  die "$1 (apt-get's last lines are above)"
}

note "installing ${missing[*]} with apt-get"
# postgresql-common creates and starts a "main" cluster when a server package is installed, unless told not to.
if [[ " ${missing[*]} " == *" postgresql-15 "* ]]; then
  "${sudo[@]}" mkdir -p /etc/postgresql-common/createcluster.d
  printf '%s\n' "# written by baton's scripts/system-deps.sh: tests start their own throwaway clusters" \
    "create_main_cluster = false" | "${sudo[@]}" tee /etc/postgresql-common/createcluster.d/baton-no-main-cluster.conf >/dev/null
fi
# The package lists can be missing (fresh images) or stale; another apt run may hold their lock for a while.
updated=""
for attempt in 1 2 3; do
  if apt update -qq; then
    updated=1
    break
  fi
  sleep $((attempt * 5))
done
[ -n "$updated" ] || fail_with_log "apt-get update failed, so ${missing[*]} could not be installed"
apt install -y -qq --no-install-recommends "${missing[@]}" || fail_with_log "apt-get install ${missing[*]} failed"

read -r -a still <<<"$(missing_packages)"
[ "${#still[@]}" -eq 0 ] || die "apt-get installed ${missing[*]} but ${still[*]} still look missing"
note "installed ${missing[*]} in $(($(now_ms) - started)) ms"
