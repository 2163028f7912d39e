"""The boot volume on someone else's SAN as the conductor reaches it, to write an image.

The external and cinder interfaces keep the volume's connection data in the
node's boot target (given by the operator, or filled from Cinder at attach);
the conductor logs in with the same initiator name and CHAP credentials the
node will use, through the first path. Mutual CHAP is not asked for on this
login (qemu-img's initiator cannot): a target requiring it refuses the write.
"""

from __future__ import annotations

from ironbound import errors, sanplan
from ironbound.drivers import base
from ironbound.drivers.storage import checks
from ironbound.records import ImageDestination, IscsiLun
from ironbound.sensitive import Secret


def boot_lun(task: base.Task, iface: str) -> ImageDestination:
    """Where to write the image: the boot volume's first path, with the node's login.

    :raises StorageError: the boot volume is not iSCSI, or its data is incomplete.
    """
    target = checks.boot_target(task)
    if target is None or target.volume_type != checks.ISCSI:
        raise errors.StorageError(
            reason=f"the {iface} storage interface writes images only onto an iSCSI boot volume"
        )
    try:
        plan = sanplan.build(task.volume_connectors, task.volume_targets)
        path = sanplan.paths(target)[0]
    except sanplan.PlanError as exc:
        raise errors.StorageError(reason=f"cannot reach the boot volume to write: {exc}") from exc
    boot = plan.volumes[0]
    return ImageDestination(
        description=f"volume {target.volume_id} (volume target {target.uuid})",
        iscsi=IscsiLun(
            portal=str(path.portal),
            iqn=path.iqn,
            lun=path.lun,
            initiator_iqn=plan.initiator_iqn,
            username=boot.username,
            password=Secret(boot.password) if boot.password else None,
        ),
    )
