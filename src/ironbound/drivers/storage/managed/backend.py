"""The seam between the managed storage interface and an iSCSI target implementation.

tgt (driven through tgtadm) is the first; LIO (targetcli or configfs) can join
by subclassing `Backend` and registering it in the ``ironbound.managed.backends``
entry point group (`plugins`) under the name ``[managed]target_helper`` gives it.
A backend holds no state of its own: the database row of each volume says what
its export must be, so a restarted target is given the same exports again.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from oslo_config import cfg

from ironbound import plugins
from ironbound.sensitive import Secret

#: The LUN of a node's config drive on its boot volume's target: behind the same ACL
#: and CHAP, found by the booted system's SCSI scan with no entry of its own in the iBFT.
CONFIG_DRIVE_LUN = 2


@dataclass(frozen=True)
class Export:
    """One volume as an iSCSI target: a LUN, the initiators it admits, its CHAP accounts."""

    target_iqn: str
    lun: int
    path: str
    initiators: tuple[str, ...]
    username: str
    password: Secret
    #: The target's own account, for mutual CHAP (the node checks the target).
    reverse_username: str | None = None
    reverse_password: Secret | None = None
    #: The node's config drive (an ISO file), as the read-only `CONFIG_DRIVE_LUN`.
    config_drive: str | None = None
    #: The LUN itself is read-only (a config drive's own target).
    read_only: bool = False


class Backend(abc.ABC):
    """An iSCSI target Ironbound configures. Every method raises StorageError on failure."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    @abc.abstractmethod
    def export(self, export: Export) -> None:
        """Create the target with its LUN, initiator ACL and CHAP; on any failure leave
        nothing of it configured."""

    @abc.abstractmethod
    def allow(self, target_iqn: str, initiator: str) -> None:
        """Admit one more initiator to an existing target (a shareable volume)."""

    @abc.abstractmethod
    def disallow(self, target_iqn: str, initiator: str) -> None:
        """Stop admitting an initiator; its session, if any, stays until it logs out."""

    @abc.abstractmethod
    def unexport(self, target_iqn: str, accounts: Sequence[str]) -> None:
        """Remove the target, sessions and all, and its CHAP `accounts`; none is fine."""

    @abc.abstractmethod
    def set_config_drive(self, target_iqn: str, path: str | None) -> None:
        """Make `path` the target's read-only `CONFIG_DRIVE_LUN`, replacing any there
        (None: remove it)."""

    @abc.abstractmethod
    def targets(self) -> set[str]:
        """The IQNs of every target configured now (one look at the target)."""

    @abc.abstractmethod
    def exists(self, target_iqn: str) -> bool:
        """Whether the target is configured now (a restarted target has forgotten it)."""

    @abc.abstractmethod
    def acl(self, target_iqn: str) -> set[str] | None:
        """The initiators the target admits now; None when it is not configured."""


def load(conf: cfg.ConfigOpts) -> Backend:
    """The backend `[managed]target_helper` names.

    :raises PluginNotFound: no installed backend has that name.
    """
    backend = plugins.load_configured(
        plugins.MANAGED_BACKENDS,
        "[managed]target_helper",
        conf.managed.target_helper,
        Backend,  # type: ignore[type-abstract]  # the check is issubclass, which takes an ABC
    )
    return backend(conf)
