"""A pyghmi BMC in memory, for the ipmi driver tests: python fake_bmc.py PORT USER [stuck].

The password comes in the environment (FAKE_BMC_PASSWORD). Power changes land at once,
unless `stuck` is given: then power commands are accepted and nothing changes.
"""

import os
import sys

from pyghmi.ipmi import bmc


class FakeBmc(bmc.Bmc):  # type: ignore[misc]  # pyghmi is untyped
    def __init__(self, user: str, password: str, port: int, stuck: bool) -> None:
        super().__init__({user: password}, port=port, address="127.0.0.1")
        self.power = "off"
        self.bootdev: object = 0
        self.stuck = stuck

    def get_power_state(self) -> str:
        return self.power

    def _set(self, state: str) -> None:
        if not self.stuck:
            self.power = state

    def power_on(self) -> None:
        self._set("on")

    def power_off(self) -> None:
        self._set("off")

    def power_shutdown(self) -> None:
        self._set("off")

    def power_reset(self) -> None:
        pass

    def pulse_diag(self) -> None:
        if self.stuck:  # a BMC that does not do NMIs: "invalid command" (0xcc)
            raise NotImplementedError

    def get_boot_device(self) -> object:
        return self.bootdev

    def set_boot_device(self, bootdevice: object) -> None:
        self.bootdev = bootdevice


if __name__ == "__main__":
    port, user = int(sys.argv[1]), sys.argv[2]
    FakeBmc(user, os.environ["FAKE_BMC_PASSWORD"], port, "stuck" in sys.argv[3:]).listen()
