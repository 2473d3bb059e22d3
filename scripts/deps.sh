#!/usr/bin/env bash
# Installs the Debian packages Teller needs to build, test and demo, when any
# is missing. Idempotent: with everything present it does nothing (no network).
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config python3
  libsqlite3-dev sqlite3 libpq-dev postgresql postgresql-client
  libjansson-dev libcsv-dev libinih-dev libsodium-dev libmicrohttpd-dev libjwt-dev curl
  libpcre2-dev libutf8proc-dev libcurl4-openssl-dev
  libxgboost-dev liblinear-dev libopenblas-dev
  libcriterion-dev openssl binutils clang
  python3-sklearn python3-xgboost python3-scipy python3-torch
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
