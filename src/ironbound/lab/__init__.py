"""Virtual bare metal for the demo and the end-to-end tests.

QEMU machines defined in a private libvirtd, their Redfish BMC (sushy-tools),
a tgt iSCSI target on the host loopback and small bootable volume images.
"""

from ironbound.lab.cli import lab_main

__all__ = ["lab_main"]
