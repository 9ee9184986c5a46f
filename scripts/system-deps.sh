#!/usr/bin/env bash
# Installs the Debian packages Spot needs when a command of theirs is missing.
# Usage: scripts/system-deps.sh command:package [command:package ...]
set -euo pipefail
missing=()
for pair in "$@"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "Spot needs these Debian packages: ${missing[*]}" >&2
  echo "Install them (as root: apt-get install -y ${missing[*]}) and run this command again." >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
