"""The `ironbound` command: serve, api, conductor, db, config-sample, dnsmasq-config, image,
lab, demo."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from oslo_config import cfg

from ironbound import __version__, config


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config-file",
        action="append",
        default=[],
        metavar="FILE",
        help="ironic.conf-style INI file; may be given several times",
    )
    parser.add_argument("--state-dir", metavar="DIR", help="state folder (default: ./state)")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="API port (default 6385)")
    parser.add_argument("--boot-port", type=int, help="boot server port (default 8080)")


def _load(args: argparse.Namespace) -> cfg.ConfigOpts:
    overrides: dict[str, object] = {}
    if args.state_dir:
        overrides["state_path"] = args.state_dir
    if getattr(args, "host", None):
        overrides["api.host_ip"] = args.host
    if getattr(args, "port", None):
        overrides["api.port"] = args.port
    if getattr(args, "boot_port", None):
        overrides["bootserver.port"] = args.boot_port
    return config.load(args.config_file, overrides)


def _logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _serve(args: argparse.Namespace) -> int:
    from ironbound.service import Parts, Service  # noqa: PLC0415 (keeps `--help` fast)

    parts = {
        "serve": Parts(),
        "api": Parts(api=True, conductor=False, bootserver=False),
        "conductor": Parts(api=False, conductor=True, bootserver=True),
    }[args.command]
    return Service(_load(args), parts).run()


def _db(args: argparse.Namespace) -> int:
    from ironbound.db import migrate  # noqa: PLC0415
    from ironbound.db.session import Database  # noqa: PLC0415

    conf = _load(args)
    db = Database(config.database_url(conf))
    try:
        if args.action == "upgrade":
            migrate.upgrade(db.engine)
        current, newest = migrate.current_revision(db.engine), migrate.head_revision()
        print(f"database revision: {current} (newest known: {newest})")
    finally:
        db.dispose()
    return 0


def _dnsmasq_config(args: argparse.Namespace) -> int:
    from ironbound.dhcp.dnsmasq import static_config  # noqa: PLC0415

    conf = _load(args)
    opts = conf.dnsmasq
    if not opts.dhcp_hostsdir or not opts.dhcp_optsdir or not opts.dhcp_leasefile:
        print(
            "ironbound: set [dnsmasq]dhcp_hostsdir, dhcp_optsdir and dhcp_leasefile first",
            file=sys.stderr,
        )
        return 2
    print(static_config(opts.dhcp_hostsdir, opts.dhcp_optsdir, opts.dhcp_leasefile), end="")
    return 0


def _image(args: argparse.Namespace) -> int:
    """Build the Debian image for iSCSI root (docs/os-image.md), or reuse a cached one."""
    import shutil  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from ironbound import osimage  # noqa: PLC0415

    output = Path(args.output)
    try:
        if args.cache_dir:
            cached = osimage.cached_image(Path(args.cache_dir))
            if output.resolve() != cached.resolve():
                shutil.copyfile(cached, output)
            print(f"{output} (cached as {cached})")
            return 0
        report = osimage.build_image(output)
    except osimage.OsImageError as exc:
        print(f"ironbound: image build failed: {exc}", file=sys.stderr)
        return 1
    mib = 1024 * 1024
    print(
        f"{report.image}: {report.image_bytes / mib:.0f} MiB qcow2, "
        f"{report.virtual_bytes / mib:.0f} MiB virtual; "
        f"kernel {report.kernel_bytes / mib:.1f} MiB, "
        f"initramfs {report.initrd_bytes / mib:.1f} MiB; built in {report.seconds:.0f} s"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ironbound",
        description="Bare-metal provisioning with boot from volume, speaking Ironic's v1 API.",
    )
    parser.add_argument("--version", action="version", version=f"ironbound {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("serve", "run API, conductor and boot server in one process (SQLite by default)"),
        ("api", "run only the API (scale-out on PostgreSQL)"),
        ("conductor", "run only a conductor and its boot server (scale-out on PostgreSQL)"),
    ):
        command = sub.add_parser(name, help=text, description=text)
        _common(command)
        _server_options(command)
    sub.add_parser("config-sample", help="print every option with its help and default")
    _common(
        sub.add_parser(
            "dnsmasq-config",
            help="print the static dnsmasq configuration the dnsmasq DHCP provider relies on",
        )
    )
    sub.add_parser(
        "demo", help="boot a virtual server from an iSCSI volume through Ironbound", add_help=False
    )
    sub.add_parser(
        "lab",
        help="virtual bare metal for the demo and e2e tests (up, down, status)",
        add_help=False,
    )
    image = sub.add_parser(
        "image", help="build the Debian image that boots from an iSCSI root (BIOS and UEFI)"
    )
    image_sub = image.add_subparsers(dest="image_command", required=True)
    build = image_sub.add_parser(
        "build",
        help="build it with mmdebstrap from Debian's packages (root, a few minutes)",
        description="Build the Debian image that boots from an iSCSI root (BIOS and UEFI).",
    )
    build.add_argument(
        "--output", default="debian-iscsi.qcow2", metavar="PATH", help="qcow2 to write"
    )
    build.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="reuse DIR/osimage/debian-iscsi-<recipe hash>.qcow2, building it only if missing",
    )
    db = sub.add_parser("db", help="database schema management")
    db.add_argument("action", choices=["upgrade", "version"])
    _common(db)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lab"]:
        from ironbound.lab import lab_main  # noqa: PLC0415 (the lab is not for production)

        return lab_main(argv[1:])
    if argv[:1] == ["demo"]:
        from ironbound.lab.demo import demo_main  # noqa: PLC0415

        return demo_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "config-sample":
        print(config.sample(), end="")
        return 0
    _logging(getattr(args, "debug", False))
    commands = {"db": _db, "image": _image, "dnsmasq-config": _dnsmasq_config}
    return commands.get(args.command, _serve)(args)


if __name__ == "__main__":
    sys.exit(main())
