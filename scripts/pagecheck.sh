#!/usr/bin/env bash
# The page checks' tools (tests/support/pages.py): axe-core and the W3C Nu HTML checker, at
# the versions pinned in tests/pagecheck/package-lock.json, installed with `npm ci` into
# tests/pagecheck/node_modules; they need node/npm to install and Java 17+ to run the checker.
# Quick when already installed. Locally without node or Java it only says what is missing (the
# page-check tests then skip, naming it); with CI=true that is an error.

_say_pagecheck() { echo "pagecheck: $*" >&2; }

_apt_pagecheck() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    _say_pagecheck "installing $* with apt-get"
    local state="${NURTURE_TEST_STATE_DIR:-/tmp/nurture-test-services}"
    mkdir -p "$state"
    if [ ! -f "$state/apt-updated" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && touch "$state/apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    return 1
  fi
}

_ensure_pagecheck() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/pagecheck"
  command -v java >/dev/null || _apt_pagecheck openjdk-17-jre-headless || {
    _say_pagecheck "java is missing: apt-get install openjdk-17-jre-headless"; return 1; }
  command -v npm >/dev/null || _apt_pagecheck nodejs npm || {
    _say_pagecheck "npm is missing: apt-get install nodejs npm"; return 1; }
  local stamp="$dir/node_modules/.nurture-installed"
  if [ -f "$stamp" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ]; then
    _say_pagecheck "axe-core and vnu-jar already installed in tests/pagecheck"
    return 0
  fi
  _say_pagecheck "npm ci in tests/pagecheck (axe-core, vnu-jar)"
  # --ignore-scripts: vnu-jar's install script would download a Java of its own; we use the
  # machine's Java.
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) \
    && touch "$stamp"
}

_ensure_pagecheck || { [ "${CI:-}" = true ] && _say_pagecheck "CI=true: the page checks are required" && exit 1; }
true
