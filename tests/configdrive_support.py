"""Config drives for tests, made with pycdlib directly (not with the code under test)."""

from __future__ import annotations

import base64
import gzip
import io
import posixpath
from collections.abc import Mapping

import pycdlib

#: The files of a small drive in the layout Nova and Ironic write.
FILES: Mapping[str, bytes] = {
    "openstack/2012-08-10/meta_data.json": b'{"uuid": "given"}',
    "openstack/latest/meta_data.json": b'{"uuid": "given"}',
    "openstack/latest/user_data": b"#cloud-config\n{}",
}


def iso(files: Mapping[str, bytes] = FILES, *, names: str = "rock ridge", level: int = 4) -> bytes:
    """An ISO 9660 image of `files` (by path). `names`: "rock ridge" (and Joliet), "joliet"
    or "plain" (ISO 9660 names only: give upper-case 8.3 paths at `level` 1)."""
    image = pycdlib.PyCdlib()
    image.new(
        interchange_level=level,
        joliet=3 if names != "plain" else None,
        rock_ridge="1.09" if names == "rock ridge" else None,
        vol_ident="config-2",
    )
    directories = sorted(
        {"/" + "/".join(p.split("/")[:n]) for p in files for n in range(1, p.count("/") + 1)}
    )
    for directory in directories:
        image.add_directory(directory, *_names(directory, names))
    for path, content in files.items():
        iso_path = f"/{path}" + (";1" if names == "plain" else "")
        rr_name, joliet_path = _names(f"/{path}", names)
        image.add_fp(io.BytesIO(content), len(content), iso_path, rr_name, joliet_path=joliet_path)
    out = io.BytesIO()
    image.write_fp(out)
    image.close()
    return out.getvalue()


def _names(path: str, names: str) -> tuple[str | None, str | None]:
    """The Rock Ridge name and Joliet path pycdlib takes beside an ISO 9660 path."""
    rr_name = posixpath.basename(path) if names == "rock ridge" else None
    return rr_name, None if names == "plain" else path


def packed(data: bytes) -> str:
    """`data` as a config drive string: gzipped, then base64."""
    return base64.b64encode(gzip.compress(data)).decode()


def read(image: bytes, path: str, facade: str = "rr_path") -> bytes:
    """The file at `path` of `image`, read through `facade` (rr_path, joliet_path)."""
    opened = pycdlib.PyCdlib()
    opened.open_fp(io.BytesIO(image))
    out = io.BytesIO()
    opened.get_file_from_iso_fp(out, **{facade: path})
    opened.close()
    return out.getvalue()


def listing(image: bytes, facade: str = "rr_path") -> set[str]:
    """Every file path of `image`, through `facade`."""
    opened = pycdlib.PyCdlib()
    opened.open_fp(io.BytesIO(image))
    found = {
        posixpath.join(directory, name).lstrip("/")
        for directory, _dirs, names in opened.walk(**{facade: "/"})
        for name in names
    }
    opened.close()
    return found


def label(image: bytes) -> str:
    opened = pycdlib.PyCdlib()
    opened.open_fp(io.BytesIO(image))
    name = str(opened.pvd.volume_identifier.decode()).strip()
    opened.close()
    return name
