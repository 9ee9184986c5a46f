#!/usr/bin/env bash
# Installs the Debian packages Spot needs when a file of theirs is missing.
# Usage: scripts/system-deps.sh need:package [need:package ...]
# A need is a command on PATH, or a path (a glob allowed) for what Debian keeps off PATH, such as
# PostgreSQL's server binaries under /usr/lib/postgresql/<version>/bin.
set -euo pipefail
missing=()
for pair in "$@"; do
  need=${pair%%:*}
  if [[ $need == */* ]]; then
    compgen -G "$need" >/dev/null || missing+=("${pair#*:}")
  else
    command -v "$need" >/dev/null 2>&1 || missing+=("${pair#*:}")
  fi
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
