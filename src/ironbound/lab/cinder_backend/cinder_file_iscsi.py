"""A file-backed Cinder volume driver for the lab: sparse files exported by Cinder's TgtAdm.

cinder-volume loads it from its own venv (this directory is put on its PYTHONPATH), with
`volume_driver = cinder_file_iscsi.FileISCSIDriver`. Ironbound never imports it. Each
volume is a sparse file in `file_volumes_dir`; export, CHAP and connection_info come
from Cinder's unmodified target helper, which writes a target file and runs tgt-admin.
Snapshots are not supported. For tests of a client's error handling, a volume named
refuse-attach-* fails to attach in the back end, and one named not-iscsi-* is exported
over NFS.
"""

import os
from pathlib import Path

from cinder.volume import driver
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import importutils

from cinder import exception, interface

LOG = logging.getLogger(__name__)

file_opts = [
    cfg.StrOpt("file_volumes_dir", help="Directory holding one sparse file per volume."),
]

_GIB = 1024**3
#: Volumes whose name starts with these fail at attach (see initialize_connection).
REFUSE_ATTACH = "refuse-attach"
NOT_ISCSI = "not-iscsi"


@interface.volumedriver
class FileISCSIDriver(driver.VolumeDriver):
    """Sparse files as iSCSI LUNs through the configured target helper (tgtadm)."""

    VERSION = "1.0.0"
    CI_WIKI_NAME = "none"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(file_opts)
        self.backend_name = self.configuration.safe_get("volume_backend_name") or "file"
        helper = self.configuration.safe_get("target_helper")
        self.target_driver = importutils.import_object(
            self.target_mapping[helper],
            configuration=self.configuration,
            executor=self._execute,
        )
        self.protocol = self.target_driver.protocol
        self._stats = {}

    # -- set-up --------------------------------------------------------------------

    @property
    def _dir(self) -> Path:
        return Path(self.configuration.file_volumes_dir)

    def _path(self, volume) -> Path:
        return self._dir / volume["name"]

    def do_setup(self, context):
        self._dir.mkdir(parents=True, exist_ok=True)

    def check_for_setup_error(self):
        if not self.configuration.file_volumes_dir:
            raise exception.InvalidConfigurationValue(option="file_volumes_dir", value=None)

    # -- volumes -------------------------------------------------------------------

    def _truncate(self, volume, size_gb) -> None:
        with self._path(volume).open("ab") as backing:
            backing.truncate(size_gb * _GIB)

    def create_volume(self, volume):
        self._path(volume).unlink(missing_ok=True)
        self._truncate(volume, volume["size"])
        return {}

    def delete_volume(self, volume):
        self._path(volume).unlink(missing_ok=True)

    def extend_volume(self, volume, new_size):
        self._truncate(volume, new_size)
        self.target_driver.extend_target(volume)

    def create_cloned_volume(self, volume, src_vref):
        with self._path(src_vref).open("rb") as source, self._path(volume).open("wb") as dest:
            while chunk := source.read(1024 * 1024):
                if chunk.count(0) == len(chunk):
                    dest.seek(len(chunk), os.SEEK_CUR)  # keep the copy sparse
                else:
                    dest.write(chunk)
            dest.truncate(volume["size"] * _GIB)
        return {}

    def create_snapshot(self, snapshot):
        raise NotImplementedError("the lab's file driver has no snapshots")

    def delete_snapshot(self, snapshot):
        raise NotImplementedError("the lab's file driver has no snapshots")

    def create_volume_from_snapshot(self, volume, snapshot):
        raise NotImplementedError("the lab's file driver has no snapshots")

    def local_path(self, volume):
        return str(self._path(volume))

    def get_pool(self, volume):
        return self.backend_name

    # -- export and attach: all Cinder's target helper ------------------------------

    def ensure_export(self, context, volume):
        return self.target_driver.ensure_export(context, volume, self.local_path(volume))

    def create_export(self, context, volume, connector):
        info = self.target_driver.create_export(context, volume, self.local_path(volume))
        return {"provider_location": info["location"], "provider_auth": info["auth"]}

    def remove_export(self, context, volume):
        self.target_driver.remove_export(context, volume)

    def initialize_connection(self, volume, connector):
        # Two failures a test can ask for by naming the volume, as real back ends fail.
        name = volume.display_name or ""
        if name.startswith(REFUSE_ATTACH):
            raise exception.VolumeBackendAPIException(data=f"the lab refuses to attach {name}")
        if name.startswith(NOT_ISCSI):
            return {"driver_volume_type": "nfs", "data": {"export": "192.0.2.1:/lab", "name": name}}
        return self.target_driver.initialize_connection(volume, connector)

    def validate_connector(self, connector):
        return self.target_driver.validate_connector(connector)

    def terminate_connection(self, volume, connector, **kwargs):
        self.target_driver.terminate_connection(volume, connector, **kwargs)
        return len(volume.volume_attachment) > 1  # True: another attachment keeps the export

    # -- stats -----------------------------------------------------------------------

    def _update_volume_stats(self):
        disk = os.statvfs(self._dir)
        self._stats = {
            "volume_backend_name": self.backend_name,
            "vendor_name": "Ironbound lab",
            "driver_version": self.VERSION,
            "storage_protocol": self.protocol,
            "total_capacity_gb": round(disk.f_blocks * disk.f_frsize / _GIB, 2),
            "free_capacity_gb": round(disk.f_bavail * disk.f_frsize / _GIB, 2),
            "reserved_percentage": 0,
            "thin_provisioning_support": True,
            "thick_provisioning_support": False,
            "max_over_subscription_ratio": 20.0,
            "multiattach": True,
        }

    def get_volume_stats(self, refresh=False):
        if refresh or not self._stats:
            self._update_volume_stats()
        return self._stats
