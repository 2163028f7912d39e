"""Entry point for sushy-emulator in the tests; runs in the emulator's interpreter.

With IRONBOUND_FAKE_POWER_DELAY=<n> set, the fake driver's power changes land
n seconds after the request (rounded down to whole seconds by the driver: the
change lands in (n-1, n] s) instead of after its random 1 to 11 s; nothing
else about the emulator changes. Without it this is plain ``sushy-emulator``.
"""

import os
import sys

from sushy_tools.emulator.main import main
from sushy_tools.emulator.resources.systems import fakedriver


class _PinnedRandom:
    """Stands in for the `random` module inside the fake driver only."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def randint(self, low: int, high: int) -> int:
        return self.seconds


if __name__ == "__main__":
    pinned = os.environ.get("IRONBOUND_FAKE_POWER_DELAY")
    if pinned:
        fakedriver.random = _PinnedRandom(int(pinned))
    sys.exit(main())
