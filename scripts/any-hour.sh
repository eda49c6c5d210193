#!/usr/bin/env bash
# Run pytest with every Python process's wall clock moved to another hour (time-machine,
# started by tests/any_hour/sitecustomize.py), so no test can depend on the hour it runs at.
#   scripts/any-hour.sh 23:30 [pytest args]          the next 23:30 UTC
#   scripts/any-hour.sh 2026-12-05T12:00 [args]       a given UTC date and time
#   scripts/any-hour.sh opposite [args]               23:30 by day, 12:00 by night (CI)
# Expects .venv and the services (make install; . scripts/services.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
when=${1:?give HH:MM, an ISO date and time, or opposite}
shift
if [ "$when" = opposite ]; then
  hour=$(date -u +%-H)
  if [ "$hour" -ge 6 ] && [ "$hour" -lt 18 ]; then when=23:30; else when=12:00; fi
fi
if [[ "$when" =~ ^[0-9]{2}:[0-9]{2}$ ]]; then
  target=$(date -u -d "today $when" +%s)
  [ "$target" -gt "$(date -u +%s)" ] || target=$(date -u -d "tomorrow $when" +%s)
else
  target=$(date -u -d "$when" +%s)
fi
export TESTS_CLOCK_OFFSET_S=$(( target - $(date -u +%s) ))
export PYTHONPATH="$PWD/tests/any_hour${PYTHONPATH:+:$PYTHONPATH}"
echo "any-hour: the tests' clock reads $(date -u -d "@$target" '+%a %Y-%m-%d %H:%M UTC')" >&2
# time-machine's own pytest plugin was imported by sitecustomize, before pytest could rewrite
# its asserts: harmless, and said once.
exec .venv/bin/python -m pytest \
  -W "ignore:Module already imported so cannot be rewritten; time_machine" "$@"
