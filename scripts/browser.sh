#!/usr/bin/env bash
# Make sure the headless Chromium the browser test drives is installed: Debian's `chromium`
# and `chromium-driver` (never a browser download of a tool's own). Source it or run it.
# Locally without root or apt-get it only says what is missing (the browser test then skips
# with that reason); with CI=true a missing browser is an error.

_say_browser() { echo "browser: $*" >&2; }

_ensure_browser() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    _say_browser "using /usr/bin/chromium and /usr/bin/chromedriver"
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    _say_browser "installing chromium and chromium-driver with apt-get"
    local state="${NURTURE_TEST_STATE_DIR:-/tmp/nurture-test-services}"
    mkdir -p "$state"
    if [ ! -f "$state/apt-updated" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && touch "$state/apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium chromium-driver fonts-dejavu-core >/dev/null || return 1
    [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]
    return
  fi
  _say_browser "chromium is missing: apt-get install chromium chromium-driver (as root)"
  return 1
}

_ensure_browser || { [ "${CI:-}" = true ] && _say_browser "CI=true: chromium is required" && exit 1; }
true
