"""Rendering iPXE scripts from the database at request time.

The Jinja2 environment is strict (an undefined value is an error, never an
empty string in a boot script) and does no HTML escaping (iPXE is not HTML).
Jinja2 is imported with the first script rendered, not at start: a server
whose nodes never network-boot keeps its ~2 MiB unused.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ironbound import sanplan

if TYPE_CHECKING:
    import jinja2


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2  # noqa: PLC0415 (see module doc)

    return jinja2.Environment(
        loader=jinja2.PackageLoader("ironbound.bootserver", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 (iPXE scripts, not HTML)
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def entry_script(base_url: str) -> str:
    return _environment().get_template("entry.ipxe.j2").render(base_url=base_url)


def chain_script(url: str) -> str:
    return f"#!ipxe\nchain {url}\n"


def volume_script(node_uuid: str, plan: sanplan.SanPlan, events_url: str) -> str:
    return (
        _environment()
        .get_template("boot_volume.ipxe.j2")
        .render(node_uuid=node_uuid, plan=plan, events_url=events_url)
    )


def ramdisk_script(
    node_uuid: str, ramdisk: sanplan.RamdiskPlan, events_url: str, seed: str | None = None
) -> str:
    """`seed`: the kernel command line word naming the node's NoCloud seed, if it has one."""
    append = " ".join(word for word in (ramdisk.append, seed) if word)
    return (
        _environment()
        .get_template("ramdisk.ipxe.j2")
        .render(
            node_uuid=node_uuid,
            plan=ramdisk.san,
            ramdisk=ramdisk,
            append=append,
            events_url=events_url,
        )
    )
