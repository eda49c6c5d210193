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
# --durations: the slowest tests, named at the end of every run, to keep an eye on the total.
.venv/bin/python -m pytest "${workers[@]}" --durations=15 "$@"
if [ $# -eq 0 ]; then
  # No test may depend on the hour it runs at: the quick tests of the modules whose outcome
  # can depend on it (tests/any_hour/clock-sensitive.txt says which and why) once more, with
  # every process's clock at the other end of the day (23:30 UTC by day, 12:00 UTC by night).
  echo "any hour: the clock-sensitive quick tests again, the clock moved to the other end of the day" >&2
  mapfile -t clock_sensitive < <(grep -v '^#' tests/any_hour/clock-sensitive.txt | grep .)
  scripts/any-hour.sh opposite "${workers[@]}" -q -p no:cacheprovider \
    -m "not slow and not chaos" "${clock_sensitive[@]}"
fi
