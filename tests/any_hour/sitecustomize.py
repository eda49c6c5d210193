"""Moves this Python process's wall clock by TESTS_CLOCK_OFFSET_S seconds, and keeps it
running: `scripts/any-hour.sh` puts this folder on PYTHONPATH, so pytest and every process
the tests start (Celery workers, `nurture api`, `nurture run`) read the same shifted clock.

The monotonic clock is left alone (timeouts and sleeps stay real); the database and Redis
servers keep their own clocks, which nurture never reads for a decision.
"""

import os

_offset_s = os.environ.get("TESTS_CLOCK_OFFSET_S")
if _offset_s:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_offset_s), tick=True).start()
    # time-machine starts its clock running at the first reading, not at start(): read it
    # now, so every process runs exactly `offset` ahead of the real clock, not a start-up
    # time behind it (the workers' and the tests' clocks must agree to the millisecond).
    time.time()
