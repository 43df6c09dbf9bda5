#!/usr/bin/env bash
# Installs the Debian packages fundledger needs when any is missing (clang and libclang-rt-dev:
# the libFuzzer harnesses of tests/fuzz, which make check builds and runs briefly).
# As root it runs apt-get; otherwise it prints the one line an administrator must run.
set -eu
pkgs="gcc make pkg-config libc6-dev libpq-dev libssl-dev libxml2-dev libxml2-utils libjansson-dev
      libcmocka-dev libcurl4-openssl-dev libmicrohttpd-dev libgmp-dev libmpfr-dev postgresql postgresql-contrib python3 curl
      libargon2-dev liboath-dev chromium chromium-driver python3-selenium
      clang libclang-rt-dev"
# The browser tests' own npm packages (axe-core, pinned in tests/browser/package-lock.json).
npm_deps() {
  if [ ! -f tests/browser/node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null 2>&1; then
    (cd tests/browser && npm ci --no-audit --no-fund --silent) || echo "deps: npm ci in tests/browser failed" >&2
  fi
}
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
# npm (for tests/browser's axe-core): Debian's package unless an npm is already on the PATH.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -z "$missing" ]; then
  npm_deps
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Do not let the postgresql package start or create a system cluster: we run our own.
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  npm_deps
  exit 0
fi
if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  npm_deps
  exit 0
fi
echo "deps: missing Debian packages. Run this once as root, then try again:" >&2
echo "  apt-get install -y$missing" >&2
exit 1
