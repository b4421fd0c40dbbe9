"""Named points where the reliability tests kill the process, to prove that nothing half-done is ever used.

`MLOPS_KILL_AT=<point>` in the environment makes the process SIGKILL itself when it reaches that point. Unset (the
only case outside the tests) a point costs one dictionary lookup.
"""

import os
import signal


def fault_point(name: str) -> None:
    if os.environ.get("MLOPS_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
