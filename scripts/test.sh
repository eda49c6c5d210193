#!/usr/bin/env bash
# The test command: install into .venv, make sure Redis, PostgreSQL and Chromium are there,
# run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
. scripts/services.sh
scripts/browser.sh   # Debian's chromium + chromium-driver for the /ops browser test
echo "lint: ruff and mypy" >&2
.venv/bin/ruff check -q nurture tests bench
.venv/bin/mypy --no-error-summary
exec .venv/bin/python -m pytest "$@"
