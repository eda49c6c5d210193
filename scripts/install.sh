#!/usr/bin/env bash
# Install nurture and its development tools into .venv at exactly the versions in uv.lock,
# the ones CI passed with. uv itself comes from the package index, pinned, into .tools/.
# Idempotent, and quick when nothing changed. After changing dependencies in pyproject.toml,
# run `.tools/bin/uv lock` and commit uv.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
UV_VERSION=0.13.9
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "install: nurture needs Python 3.11 or newer (found $("$PYTHON" --version))" >&2
  exit 1
fi
if [ "$(.tools/bin/uv --version 2>/dev/null | cut -d' ' -f1-2)" != "uv $UV_VERSION" ]; then
  echo "install: uv $UV_VERSION into .tools/" >&2
  rm -rf .tools
  "$PYTHON" -m venv .tools
  .tools/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
stamp=.venv/.nurture-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ uv.lock -nt "$stamp" ]; then
  echo "install: .venv from uv.lock" >&2
  # --locked: a uv.lock that no longer matches pyproject.toml is an error, not re-resolved.
  # --compile-bytecode: once here, not in every process the tests start on a clean clone.
  UV_PROJECT_ENVIRONMENT=.venv .tools/bin/uv sync --locked --extra dev --python "$PYTHON" -q \
    --compile-bytecode
  touch "$stamp"
fi
