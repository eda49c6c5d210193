#!/usr/bin/env bash
# The test command: install into .venv, make sure Redis, PostgreSQL and Chromium are there,
# lint, run pytest on every core (pytest-xdist; NURTURE_TEST_WORKERS=N for N processes, 0 for
# one); run without arguments (as CI does), the quick tests of the modules whose outcome can
# depend on the hour run a second time at the other end of the day (scripts/any-hour.sh).
# Each test process claims a Redis database no other test process on this machine holds
# (9-15 but 12, then 1-8; tests/support/databases.py), or uses NURTURE_TEST_REDIS_DB + N when set,
# or the Nth of NURTURE_TEST_REDIS_DBS="0,1"; each test has its own PostgreSQL schema.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
. scripts/services.sh
scripts/browser.sh   # Debian's chromium + chromium-driver for the /ops browser test
scripts/pagecheck.sh # axe-core and the Nu HTML checker for the page checks (npm ci)
echo "lint: ruff, mypy, and the layers contract (lint-imports)" >&2
.venv/bin/ruff check -q nurture tests bench
.venv/bin/mypy --no-error-summary
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
workers=(-n "${NURTURE_TEST_WORKERS:-auto}" --dist loadgroup)
any_hour=""
if [ $# -eq 0 ]; then
  # No test may depend on the hour it runs at: the quick tests of the modules whose outcome
  # can depend on it (tests/any_hour/clock-sensitive.txt says which and why) once more, with
  # every process's clock at the other end of the day (23:30 UTC by day, 12:00 UTC by night).
  # In one process beside the main pass (each test process claims its own Redis database),
  # which leaves the cores idle for long stretches while its tests wait on workers and
  # browsers; its report is printed after the main pass's.
  echo "any hour: the clock-sensitive quick tests again, the clock moved to the other end of the day, beside the main pass" >&2
  mapfile -t clock_sensitive < <(grep -v '^#' tests/any_hour/clock-sensitive.txt | grep .)
  any_hour_log=$(mktemp)
  scripts/any-hour.sh opposite -q -p no:cacheprovider \
    -m "not slow and not chaos" "${clock_sensitive[@]}" >"$any_hour_log" 2>&1 &
  any_hour=$!
  trap 'kill "$any_hour" 2>/dev/null || true' INT TERM
fi
# --durations: the slowest tests, named at the end of every run, to keep an eye on the total.
status=0
.venv/bin/python -m pytest "${workers[@]}" --durations=15 "$@" || status=$?
if [ -n "$any_hour" ]; then
  hour_status=0
  wait "$any_hour" || hour_status=$?
  echo "any hour: the clock-sensitive quick tests at the other end of the day" >&2
  cat "$any_hour_log"
  rm -f "$any_hour_log"
  [ "$status" -ne 0 ] || status=$hour_status
fi
exit "$status"
