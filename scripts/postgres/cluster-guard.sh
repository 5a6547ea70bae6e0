#!/bin/sh
# cluster-guard.sh ROOT BINDIR — the last line of defence of a throwaway PostgreSQL cluster started by
# test/support/postgres.ts. The test process starts it with a pipe on its stdin and never writes to it; when that pipe
# closes — the test process stopped the cluster, exited, crashed or was killed, however it ended — the guard stops
# the cluster at once (immediate shutdown of the postmaster recorded in ROOT/data/postmaster.pid, if any) and removes
# ROOT (data directory, socket, server log). HUP/INT/TERM are ignored, so a signal sent to the whole process group
# does not end the guard before its cleanup; only SIGKILL does, and then the next start sweeps the leftovers.
set -u
root="$1"
bindir="$2"
trap '' HUP INT TERM
cat >/dev/null 2>&1
if [ -f "$root/data/postmaster.pid" ]; then
  runuser -u postgres -- "$bindir/pg_ctl" -D "$root/data" stop -m immediate -w -t 30 >/dev/null 2>&1
fi
rm -rf "$root"
