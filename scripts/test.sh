#!/usr/bin/env bash
# The test command: install into .venv, make sure Redis, PostgreSQL and Chromium are there,
# run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
. scripts/services.sh
scripts/browser.sh   # Debian's chromium + chromium-driver for the /ops browser test
echo "lint: ruff, mypy, and the layers contract (lint-imports)" >&2
.venv/bin/ruff check -q nurture tests bench
.venv/bin/mypy --no-error-summary
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
