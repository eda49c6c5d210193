#!/usr/bin/env bash
# The test command: install into .venv, make sure Redis, PostgreSQL and Chromium are there,
# lint, run pytest; run without arguments (as CI does), the quick tests run a second time at
# the other end of the day (scripts/any-hour.sh).
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
.venv/bin/python -m pytest "$@"
if [ $# -eq 0 ]; then
  # No test may depend on the hour it runs at: the quick tests once more, with every
  # process's clock at the other end of the day (23:30 UTC by day, 12:00 UTC by night).
  echo "any hour: the quick tests again, the clock moved to the other end of the day" >&2
  scripts/any-hour.sh opposite -q -p no:cacheprovider -m "not slow and not chaos"
fi
