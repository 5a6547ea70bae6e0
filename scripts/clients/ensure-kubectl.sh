#!/usr/bin/env bash
# ensure-kubectl.sh — makes sure a real `kubectl` (and `openssl`, which the test uses to make its fake API server's
# certificate: kubectl runs exec credential plugins only for https servers) are on PATH for the kubectl credential
# plugin test. Installs what is missing from Debian (`kubernetes-client`, `openssl`) with apt-get, quietly and
# non-interactively (we run as root). Prints the path of kubectl; exits non-zero with a message if it cannot.
set -euo pipefail
missing=()
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then
    echo "ensure-kubectl: ${missing[*]} missing and installing needs root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v kubectl
