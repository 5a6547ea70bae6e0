#!/usr/bin/env bash
# quiet-dbus-daemon.sh — the dbus-daemon that with-keyring.sh hands to `dbus-run-session --dbus-daemon=`. It runs the
# real dbus-daemon with the same arguments (and inherited descriptors) and drops one harmless line from its stderr:
# "Failed to set fd limit", printed when root in a container may not raise RLIMIT_NOFILE. Other output passes through.
# The filter closes every inherited descriptor above 2 first: dbus-run-session reads the bus address from a pipe
# until EOF, so the filter must not keep that pipe open.
filter() {
  local fd
  for fd in /proc/self/fd/*; do
    fd="${fd##*/}"
    if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec ${fd}>&-" 2>/dev/null || true; fi
  done
  exec grep -v --line-buffered 'Failed to set fd limit' >&2
}
exec dbus-daemon "$@" 2> >(filter)
