#!/usr/bin/env bash
# Installs the Debian packages fundledger needs when any is missing (clang and libclang-rt-dev:
# the libFuzzer harnesses of tests/fuzz, which make check builds and runs briefly).
# As root it runs apt-get; otherwise it prints the one line an administrator must run.
set -eu
pkgs="gcc make pkg-config libc6-dev libpq-dev libssl-dev libxml2-dev libxml2-utils libjansson-dev
      libcmocka-dev libcurl4-openssl-dev libmicrohttpd-dev libgmp-dev libmpfr-dev postgresql postgresql-contrib python3 curl
      clang libclang-rt-dev"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Do not let the postgresql package start or create a system cluster: we run our own.
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  exit 0
fi
if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  exit 0
fi
echo "deps: missing Debian packages. Run this once as root, then try again:" >&2
echo "  apt-get install -y$missing" >&2
exit 1
