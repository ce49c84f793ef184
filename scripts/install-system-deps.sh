#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (real services started on loopback).
# Runs apt-get only for packages that are missing; needs root (or sudo) for that.
set -euo pipefail

missing=()
for pkg in "$@"; do
  case "$pkg" in
    postgresql) compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=("$pkg") ;;
    *) dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg") ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "error: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# The tests start their own instances on free loopback ports; keep the packages' init scripts
# from starting system-wide daemons on the default ports while installing.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  made_policy=1
fi
trap '[ -n "$made_policy" ] && $sudo rm -f "$policy"' EXIT
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian postgresql package starts a cluster on the default port; the tests start their
# own on free loopback ports, so the packaged one is not needed.
if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
  for cluster in /etc/postgresql/*/main; do
    [ -d "$cluster" ] || continue
    ver=$(basename "$(dirname "$cluster")")
    $sudo pg_ctlcluster "$ver" main stop 2>/dev/null || true
  done
fi
