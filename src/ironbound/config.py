"""Configuration options, read from an ironic.conf-style INI file by oslo.config.

Option names and groups follow Ironic's wherever Ironic has the feature, so an
operator can carry settings over. Every option has a default that lets
`ironbound serve` start with no configuration file at all.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from oslo_config import cfg

INTERFACE_TYPES: tuple[str, ...] = (
    "bios",
    "boot",
    "console",
    "deploy",
    "inspect",
    "management",
    "network",
    "power",
    "raid",
    "rescue",
    "storage",
    "vendor",
)

# What is enabled out of the box: the fake implementations (so the admin
# guide runs on fake-hardware) plus every real one Ironbound ships.
_DEFAULT_ENABLED: dict[str, list[str]] = {
    "bios": ["no-bios", "fake"],
    "boot": ["fake", "ipxe"],
    "console": ["no-console", "fake"],
    "deploy": ["fake", "direct", "ramdisk"],
    "inspect": ["no-inspect", "fake"],
    "management": ["fake", "redfish", "ipmi"],
    "network": ["noop"],
    "power": ["fake", "redfish", "ipmi"],
    "raid": ["no-raid", "fake"],
    "rescue": ["no-rescue"],
    "storage": ["cinder", "external", "managed", "noop"],
    "vendor": ["no-vendor", "fake"],
}

#: [deploy]boot_confirmation: when a deploy that reports its boot is done (docs/boot.md).
BOOT_SETTLE = "settle"  # a short settle after the boot handed over to the volume
BOOT_CONFIRMED_BY_OS = "os"  # when the booted operating system confirms it came up
BOOT_CONFIRMATIONS = (BOOT_SETTLE, BOOT_CONFIRMED_BY_OS)

_DEFAULT_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "host",
        default=socket.gethostname(),
        sample_default="localhost",
        help="Name of this conductor; it appears in node reservations and /v1/drivers.",
    ),
    cfg.FloatOpt(
        "graceful_shutdown_timeout",
        default=60.0,
        min=0.0,
        help="Seconds a stopping conductor lets its running jobs finish. Jobs still running "
        "then are abandoned: their nodes move to the failure state of their busy state, with "
        "a reason, and are unlocked, so a stop never leaves a node locked.",
    ),
    cfg.StrOpt(
        "state_path",
        default="state",
        help="Folder for the SQLite database, the secret key and other state. "
        "Relative paths are taken from the current directory.",
    ),
    cfg.StrOpt(
        "auth_strategy",
        default="noauth",
        choices=[
            ("noauth", "no authentication"),
            ("http_basic", "HTTP basic authentication against an htpasswd file"),
            ("keystone", "OpenStack Keystone tokens, checked by keystonemiddleware"),
        ],
        help="noauth: every caller is an administrator (for loopback use). "
        "http_basic: callers authenticate against http_basic_auth_user_file. "
        "keystone: callers send a Keystone token (X-Auth-Token), validated against the "
        "Keystone that [keystone_authtoken] names, as Ironic's auth_token middleware does.",
    ),
    cfg.StrOpt(
        "rbac_service_project_name",
        default="service",
        help="With auth_strategy keystone: a token with the 'service' role scoped to this "
        "project of the domain rbac_service_project_domain_id (Nova's service user, say) may "
        "do everything an admin may, as Ironic's service_role rule allows.",
    ),
    cfg.StrOpt(
        "rbac_service_project_domain_id",
        default="default",
        help="With auth_strategy keystone: the ID of the domain of "
        "rbac_service_project_name (Keystone's default domain unless changed). A project "
        "of that name in another domain gives its service role nothing: any domain's admin "
        "may create one. Ironic compares the project's name only.",
    ),
    cfg.StrOpt(
        "http_basic_auth_user_file",
        default="/etc/ironbound/htpasswd",
        help="Apache-style htpasswd file with bcrypt entries, read when auth_strategy "
        "is http_basic.",
    ),
    cfg.ListOpt(
        "enabled_hardware_types",
        default=["fake-hardware", "redfish", "ipmi"],
        help="Hardware types this conductor loads (entry points in ironbound.hardware.types).",
    ),
]
for _iface in INTERFACE_TYPES:
    _DEFAULT_OPTS.append(
        cfg.ListOpt(
            f"enabled_{_iface}_interfaces",
            default=_DEFAULT_ENABLED[_iface],
            help=f"{_iface.capitalize()} interfaces this conductor loads.",
        )
    )
    _DEFAULT_OPTS.append(
        cfg.StrOpt(
            f"default_{_iface}_interface",
            help=f"{_iface.capitalize()} interface for nodes that do not name one. Unset: "
            "the first interface of the node's hardware type that is enabled.",
        )
    )


def _connection_opts(server: str, max_connections: int) -> list[cfg.Opt]:
    """The bounds each HTTP server keeps on its connections (docs/security.md)."""
    return [
        cfg.IntOpt(
            "max_connections",
            default=max_connections,
            min=1,
            help=f"Connections the {server} holds at once; a connection past this is closed "
            "as soon as it is accepted. The process lowers it (and says so at start) when "
            "its descriptor limit is too low for both servers' bounds.",
        ),
        cfg.FloatOpt(
            "idle_timeout",
            default=5.0,
            min=0.1,
            help=f"Seconds a connection to the {server} may stay open without a complete "
            "request head, after it opens and after each answer; then it is closed.",
        ),
    ]


_API_OPTS: list[cfg.Opt] = [
    cfg.StrOpt("host_ip", default="127.0.0.1", help="Address the API listens on."),
    cfg.PortOpt("port", default=6385, help="Port the API listens on."),
    cfg.IntOpt(
        "max_limit",
        default=1000,
        min=1,
        help="Largest number of items one list request returns.",
    ),
    cfg.DictOpt(
        "user_roles",
        default={},
        help="With http_basic: roles of each user, e.g. 'alice:admin,bob:reader'. Several "
        "roles are joined with '+' (carol:member+reader). Roles: admin (everything, "
        "including volume target properties), member (read and write), reader (read).",
    ),
    cfg.ListOpt(
        "default_roles",
        default=["admin"],
        help="With http_basic: roles of users not listed in user_roles.",
    ),
    cfg.FloatOpt(
        "settle_time",
        default=0.5,
        min=0.0,
        help="Seconds a state-change request waits for its job to finish before answering "
        "202. Quick transitions are then already done when the client first looks (the "
        "baremetal CLI's --wait otherwise polls again only after 10 s); slow ones still "
        "answer 202 after this bound.",
    ),
    cfg.FloatOpt(
        "request_body_timeout",
        default=30.0,
        min=1.0,
        help="Seconds a client may take to send a request body. Past this the request is "
        "answered 408 and its connection closed, so that a client that stalls halfway "
        "through a body cannot hold a connection open indefinitely.",
    ),
    cfg.StrOpt(
        "public_endpoint",
        help="Base URL put into links, e.g. https://bm.example.com:6385. Unset: taken "
        "from the request.",
    ),
    *_connection_opts("API", 1000),
]

_DATABASE_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "connection",
        secret=True,
        help="SQLAlchemy URL. Unset: SQLite in state_path. A postgresql+psycopg URL "
        "lets several API and conductor processes share the database.",
    ),
]

#: What a conductor group name may hold (Ironic's rule; stored lower-cased).
CONDUCTOR_GROUP_PATTERN = r"^[a-zA-Z0-9_\-\.]*$"
CONDUCTOR_GROUP_MAX = 255

_CONDUCTOR_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "conductor_group",
        default="",
        regex=CONDUCTOR_GROUP_PATTERN,
        max_length=CONDUCTOR_GROUP_MAX,
        help="The conductor group this conductor joins (letters, digits, _ - and ., at most "
        "255, case-insensitive). It takes work only for nodes whose conductor_group is the "
        "same; the default, empty, serves nodes in no group.",
    ),
    cfg.IntOpt(
        "workers_pool_size",
        default=8,
        min=1,
        help="Worker threads that run node jobs in this conductor. One more thread "
        "runs only the jobs an API caller waits for (validate, boot device).",
    ),
    cfg.IntOpt(
        "node_locked_retry_attempts",
        default=3,
        min=0,
        help="How many times an API request waits for a busy node before answering 409.",
    ),
    cfg.FloatOpt(
        "node_locked_retry_interval",
        default=1.0,
        min=0.01,
        help="Seconds between those waits.",
    ),
    cfg.IntOpt(
        "deploy_callback_timeout",
        default=1800,
        min=1,
        help="Seconds a deploying node may wait for its boot to report back before the "
        "deploy fails.",
    ),
    cfg.FloatOpt(
        "heartbeat_interval",
        default=10.0,
        min=0.1,
        help="Seconds between a conductor's heartbeats in the database.",
    ),
    cfg.FloatOpt(
        "heartbeat_timeout",
        default=60.0,
        min=1.0,
        help="A conductor whose heartbeat is older than this is dead: its locks are "
        "released and its half-done nodes failed.",
    ),
    cfg.FloatOpt(
        "sync_power_state_interval",
        default=60.0,
        min=0.0,
        help="Seconds between power state syncs with the BMCs; 0 disables the sync.",
    ),
    cfg.FloatOpt(
        "sync_storage_interval",
        default=300.0,
        min=0.0,
        help="Seconds between comparisons of the volume attachments recorded for active nodes "
        "with their storage service's own (Cinder's); a difference is shown on the node, as "
        "last_error and an event, and never repaired behind the operator's back. 0 disables "
        "the comparison.",
    ),
    cfg.FloatOpt(
        "export_check_interval",
        default=5.0,
        min=0.0,
        help="Seconds between a conductor's looks at the iSCSI target it exports volumes on "
        "itself (managed storage: one 'tgtadm --op show', and one database read). An active "
        "node whose export the target has lost (a restarted tgtd keeps nothing) gets its "
        "storage check at once, which restores the export: within about this long plus the "
        "check's own second or two, well inside open-iscsi's 120 s. 0 leaves restoring to "
        "the storage check of every sync_storage_interval.",
    ),
    cfg.FloatOpt(
        "power_state_change_timeout",
        default=60.0,
        min=1.0,
        help="Seconds to wait for a node to reach a requested power state before the "
        "power action fails.",
    ),
    cfg.FloatOpt(
        "soft_power_off_timeout",
        default=600.0,
        min=1.0,
        help="Seconds to wait for a soft power off or soft reboot (the operating "
        "system shuts down first) when the request names no timeout.",
    ),
    cfg.FloatOpt(
        "job_poll_interval",
        default=1.0,
        min=0.05,
        help="Seconds between the conductor's looks at the job queue (one read each) for "
        "jobs that no in-process wake-up announced: those queued by API processes of "
        "their own beside it.",
    ),
    cfg.ListOpt(
        "file_url_allowed_paths",
        default=["/srv/images"],
        help="Folders a file:// image_source may name (with their subfolders); any other "
        "local path is refused, so an API user cannot have the conductor read its files. "
        "A folder that holds, or lies inside, the state folder, the key file, the database, "
        "the volumes or image cache folder, an option file, the htpasswd file or the "
        "dnsmasq folders (or /proc, /sys, /dev) is refused at start.",
    ),
    cfg.FloatOpt(
        "sync_job_timeout",
        default=60.0,
        min=1.0,
        help="Seconds the API waits for a conductor to answer a synchronous request "
        "(validate, boot device) before giving up.",
    ),
]

_IMAGE_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "cache_dir",
        help="Folder where fetched images are kept, by checksum, so that deploying the "
        "same image again downloads nothing. Default: images/ in the state folder.",
    ),
    cfg.FloatOpt(
        "cache_max_gb",
        default=20.0,
        min=0.0,
        help="The image cache is trimmed, least recently used first, to this many GiB "
        "after each fetch (an image being written is never removed).",
    ),
    cfg.FloatOpt(
        "cache_min_free_gb",
        default=1.0,
        min=0.0,
        help="A fetch leaves at least this many GiB free on the image cache's file system: "
        "an image whose declared size would not fit is not fetched, and a download that "
        "would eat into this reserve is stopped (the deploy fails saying so).",
    ),
    cfg.FloatOpt(
        "max_image_size_gb",
        default=64.0,
        min=0.001,
        help="A download larger than this many GiB is stopped and the deploy fails, so a "
        "wrong or hostile image_source cannot fill the conductor's disk.",
    ),
    cfg.FloatOpt(
        "download_timeout",
        default=60.0,
        min=1.0,
        help="Seconds to wait for an image server to connect or to send the next bytes.",
    ),
    cfg.FloatOpt(
        "download_total_timeout",
        default=3600.0,
        min=1.0,
        help="Seconds a whole image fetch may take, checksums file included; a fetch "
        "still running then is stopped and the deploy fails, so a server that sends a "
        "byte now and then cannot hold a node and a conductor worker for ever.",
    ),
    cfg.FloatOpt(
        "write_stall_timeout",
        default=300.0,
        min=1.0,
        help="Seconds qemu-img may go without progress while writing an image onto a "
        "volume before the write is stopped and the deploy fails.",
    ),
    cfg.ListOpt(
        "iscsi_portal_aliases",
        default=[],
        help="Where the conductor reaches a portal that nodes reach at another address, as "
        "node_portal=conductor_portal items (e.g. 10.0.2.2:3260=127.0.0.1:3260), for "
        "images written over iSCSI onto external or Cinder volumes when the conductor "
        "sits on another network than the nodes (or behind NAT).",
    ),
]

_AGENT_OPTS: list[cfg.Opt] = [
    cfg.BoolOpt(
        "allow_md5_checksum",
        default=False,
        help="Accept a bare 32-digit image_checksum as MD5. Off by default, as in Ironic: "
        "MD5 does not protect against a tampered image; give a SHA-256 or SHA-512 value.",
    ),
]

_DEPLOY_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "http_url",
        help="Base URL at which nodes reach the boot server, e.g. http://192.0.2.1:8080. "
        "The ipxe boot interface needs it; the boot server's own links fall back to "
        "http://<[bootserver]host>:<[bootserver]port> without it.",
    ),
    cfg.StrOpt(
        "boot_confirmation",
        default=BOOT_SETTLE,
        choices=[
            (
                BOOT_SETTLE,
                "The node goes active boot_settle_time seconds after its boot script handed "
                "over to the volume (sanboot), unless sanboot reports a failure first. Any "
                "image boots this way.",
            ),
            (
                BOOT_CONFIRMED_BY_OS,
                "The node goes active only when its booted operating system confirms it "
                "came up, at /boot/<token>/events/up (cloud-init's phone_home); a deploy "
                "whose system never confirms fails at [conductor]deploy_callback_timeout.",
            ),
        ],
        help="When a deploy that boots through the boot server is done. A node's "
        "instance_info or driver_info boot_confirmation overrides it (see docs/boot.md).",
    ),
    cfg.FloatOpt(
        "boot_settle_time",
        default=10.0,
        min=0.0,
        help="Seconds between a deploy's boot handing over to its volume and the node going "
        "active, when boot_confirmation is settle: a sanboot that fails (nothing bootable, "
        "no EFI loader) reports within this time, so the node never shows active for a "
        "boot that failed. The conductor looks every [conductor]job_poll_interval.",
    ),
]

_BOOTSERVER_OPTS: list[cfg.Opt] = [
    cfg.StrOpt("host", default="127.0.0.1", help="Address the boot server listens on."),
    cfg.PortOpt("port", default=8080, help="Port the boot server listens on."),
    cfg.BoolOpt(
        "mac_lookup",
        help="Let boot.ipxe find a node's script by the MAC address of the booting NIC. "
        "Only nodes being deployed or active with boot from volume are found. Unset: on "
        "with [dhcp]dhcp_provider none (a DHCP bootfile of /boot.ipxe is then how a node "
        "finds its script), off with dnsmasq (DHCP hands each node its own script URL).",
    ),
    cfg.IntOpt(
        "boot_cycles_per_minute",
        default=6,
        min=1,
        help="Boot cycles (a script fetch, then its reports) a node's token opens in a "
        "minute. Past that, the node is still served its script, but nothing is recorded "
        "and its reports are refused until the minute is over: a host looping through "
        "fetch and report cannot grow the database.",
    ),
    *_connection_opts("boot server", 1000),
    cfg.IntOpt(
        "max_connections_per_address",
        default=16,
        min=1,
        help="Connections one client address may hold to the boot server at once (hosts "
        "on the provisioning network are not trusted); past this a new one is closed as "
        "soon as it is accepted.",
    ),
]

_DHCP_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "dhcp_provider",
        default="none",
        help="The DHCP provider: what tells a deploying or active node's network boot "
        "where its boot script is (see docs/boot.md). A plug-in of the entry point group "
        "ironbound.dhcp.providers; installed with Ironbound: 'none' (Ironbound configures "
        "no DHCP server: the operator's points machines at the boot server's entry "
        "script) and 'dnsmasq' (Ironbound writes a file per deploying or active node "
        "into dnsmasq's host and option directories, [dnsmasq]).",
    ),
]

_DNSMASQ_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "dhcp_hostsdir",
        help="Directory dnsmasq reads host entries from (its --dhcp-hostsdir). The "
        "conductor writes one file per deploying or active node into it.",
    ),
    cfg.StrOpt(
        "dhcp_optsdir",
        help="Directory dnsmasq reads options from (its --dhcp-optsdir). The conductor "
        "writes each deploying or active node's boot script URL into it: the files hold "
        "boot tokens, so keep the directory readable by dnsmasq only.",
    ),
    cfg.StrOpt(
        "dhcp_leasefile",
        help="dnsmasq's lease file (its --dhcp-leasefile; `ironbound dnsmasq-config` prints "
        "the line). The boot server serves a node's script, and takes its reports, only "
        "from an address this file shows leased to one of the node's pxe_enabled MACs. "
        "Required with [dhcp]dhcp_provider dnsmasq; with none, setting it binds nodes to "
        "the leases of an operator's own dnsmasq. Unlike Ironic's, no default.",
    ),
]

_SECRETS_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "key_file",
        help="File holding the key that encrypts secrets at rest. Created (mode 0600) if "
        "missing. Unset: secret.key in state_path. Every process sharing a database "
        "must use the same key.",
    ),
]

_FAKE_OPTS: list[cfg.Opt] = [
    cfg.FloatOpt("power_delay", default=0.0, min=0.0, help="Seconds a fake power action takes."),
    cfg.FloatOpt("boot_delay", default=0.0, min=0.0, help="Seconds a fake boot step takes."),
    cfg.FloatOpt("deploy_delay", default=0.0, min=0.0, help="Seconds a fake deploy step takes."),
]

_REDFISH_OPTS: list[cfg.Opt] = [
    cfg.IntOpt(
        "connection_attempts",
        default=5,
        min=1,
        help="How many times to try reaching a Redfish BMC before giving up.",
    ),
    cfg.FloatOpt(
        "connection_retry_interval",
        default=1.0,
        min=0.0,
        help="Seconds between those attempts.",
    ),
    cfg.IntOpt(
        "connection_cache_size",
        default=1000,
        min=0,
        help="How many authenticated Redfish connections (one per BMC and credentials) "
        "to keep for reuse; the least recently used goes first. 0 disables the cache.",
    ),
    cfg.FloatOpt(
        "connect_timeout",
        default=10.0,
        min=0.1,
        help="Seconds to wait for a TCP connection to a Redfish BMC to open.",
    ),
    cfg.FloatOpt(
        "power_state_poll_interval",
        default=1.0,
        min=0.05,
        help="Seconds between looks at a node's power state while waiting for a power "
        "action to take effect.",
    ),
]


_IPMI_OPTS: list[cfg.Opt] = [
    cfg.IntOpt(
        "connection_attempts",
        default=3,
        min=1,
        help="How many times to try opening an IPMI session with a BMC (a login that gets "
        "no answer) before giving up. Refused credentials are not retried.",
    ),
    cfg.FloatOpt(
        "retry_interval",
        default=1.0,
        min=0.0,
        help="Seconds between those attempts.",
    ),
    cfg.FloatOpt(
        "command_retry_timeout",
        default=5.0,
        min=0.5,
        help="Seconds pyghmi keeps resending one IPMI request (UDP) that gets no answer, "
        "with growing waits, before the session counts as lost. A request may take up to "
        "about twice this long before it fails.",
    ),
    cfg.FloatOpt(
        "power_state_poll_interval",
        default=1.0,
        min=0.05,
        help="Seconds between looks at a node's power state while waiting for a power "
        "action to take effect.",
    ),
]


# Ironic's own [cinder] options; keystoneauth adds the auth, session (timeout,
# TLS) and adapter (endpoint_override, region_name, ...) options to the group.
_CINDER_OPTS: list[cfg.Opt] = [
    cfg.IntOpt(
        "retries",
        default=3,
        min=0,
        help="How many times a request to Cinder is retried when the connection to it fails.",
    ),
    cfg.IntOpt(
        "action_retries",
        default=3,
        min=0,
        help="How many times a failed attach, detach or attachment delete is retried before "
        "the deploy or undeploy fails.",
    ),
    cfg.FloatOpt(
        "action_retry_interval",
        default=5.0,
        min=0.0,
        help="Seconds between those retries.",
    ),
    cfg.FloatOpt(
        "default_timeout",
        default=60.0,
        min=1.0,
        help="Seconds a single request to Cinder may take when [cinder]timeout (keystoneauth's "
        "session option) is not set, so that a hung Cinder never holds a node forever.",
    ),
]

_CINDER_SERVICE_TYPE = "volumev3"

# The `managed` storage interface: boot volumes Ironbound creates itself on a
# Linux iSCSI target. Names follow Cinder's target options where it has one.
_MANAGED_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "target_helper",
        default="tgtadm",
        help="The iSCSI target the managed storage interface drives (Cinder's option): a "
        "plug-in of the entry point group ironbound.managed.backends; installed with "
        "Ironbound: tgtadm, the Linux SCSI target framework's tgtd.",
    ),
    cfg.IntOpt(
        "tgt_control_port",
        default=0,
        min=0,
        max=32767,
        help="tgtd's control port (tgtadm -C): 0 is the system's tgtd; another number "
        "reaches a private tgtd started with the same -C.",
    ),
    cfg.StrOpt(
        "target_portal",
        help="The portal (host:port, an IPv6 host in brackets) nodes log in to, as they "
        "reach tgtd, e.g. 192.0.2.10:3260 (10.0.2.2:3260 for QEMU guests on user "
        "networking). Required by the managed storage interface, and for the config "
        "drives of external nodes (a target on this tgtd): tgtd may listen on addresses "
        "the nodes cannot reach.",
    ),
    cfg.StrOpt(
        "volumes_dir",
        help="Directory of the volumes' sparse backing files (created 0700, files 0600). "
        "Unset: managed-volumes in state_path.",
    ),
    cfg.StrOpt(
        "target_prefix",
        default="iqn.2010-10.org.openstack:ironbound-",
        help="Prefix of the generated target IQNs; the volume's UUID follows it (Cinder's "
        "option, with Cinder's naming authority).",
    ),
    cfg.IntOpt(
        "default_volume_size_gb",
        default=10,
        min=1,
        help="Size in GiB of a new boot volume when the node's instance_info has no root_gb.",
    ),
    cfg.IntOpt(
        "max_volume_size_gb",
        default=16384,
        min=1,
        help="Largest root_gb a node may ask for: a typo must not fill the volume directory.",
    ),
    cfg.BoolOpt(
        "keep_boot_volume",
        default=False,
        help="Whether undeploy keeps a node's boot volume (and its data) for the node's next "
        "deploy, when its instance_info/keep_boot_volume does not say. False deletes it, "
        "like the local disk Ironic cleans.",
    ),
    cfg.BoolOpt(
        "mutual_chap",
        default=False,
        help="Whether new exports also authenticate the target to the node (mutual CHAP), "
        "when the node's instance_info/mutual_chap does not say.",
    ),
    cfg.FloatOpt(
        "tgtadm_timeout",
        default=30.0,
        min=1.0,
        help="Seconds one tgtadm command may take.",
    ),
]


def _cinder_library_opts() -> list[cfg.Opt]:
    """keystoneauth's options for the [cinder] group, as Ironic offers them."""
    from keystoneauth1 import loading as ks_loading  # noqa: PLC0415 (see register_library_opts)

    return (
        ks_loading.get_session_conf_options()
        + ks_loading.get_auth_common_conf_options()
        + _password_opts()
        + ks_loading.get_adapter_conf_options()
    )


def _password_opts() -> list[cfg.Opt]:
    """keystoneauth's password plugin options, which the sample lists for both groups."""
    from keystoneauth1 import loading as ks_loading  # noqa: PLC0415 (see register_library_opts)

    return list(ks_loading.get_auth_plugin_conf_options("password"))


#: keystonemiddleware's options Ironbound does not honour: it keeps validated tokens in
#: its own bounded in-process cache (ironbound.api.keystone), never in memcached.
_IGNORED_AUTHTOKEN_PREFIXES = ("memcache", "cache")


def _authtoken_opts() -> list[cfg.Opt]:
    """keystonemiddleware's [keystone_authtoken] options that Ironbound honours."""
    from keystonemiddleware import auth_token  # noqa: PLC0415 (see register_library_opts)

    return [
        opt
        for _group, opts in auth_token.list_opts()
        for opt in opts
        if not opt.dest.startswith(_IGNORED_AUTHTOKEN_PREFIXES)
    ]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register every Ironbound option on `conf`."""
    conf.register_opts(_DEFAULT_OPTS)
    conf.register_opts(_API_OPTS, group="api")
    conf.register_opts(_DATABASE_OPTS, group="database")
    conf.register_opts(_CONDUCTOR_OPTS, group="conductor")
    conf.register_opts(_DEPLOY_OPTS, group="deploy")
    conf.register_opts(_IMAGE_OPTS, group="image")
    conf.register_opts(_AGENT_OPTS, group="agent")
    conf.register_opts(_BOOTSERVER_OPTS, group="bootserver")
    conf.register_opts(_DHCP_OPTS, group="dhcp")
    conf.register_opts(_DNSMASQ_OPTS, group="dnsmasq")
    conf.register_opts(_SECRETS_OPTS, group="secrets")
    conf.register_opts(_FAKE_OPTS, group="fake")
    conf.register_opts(_REDFISH_OPTS, group="redfish")
    conf.register_opts(_IPMI_OPTS, group="ipmi")
    conf.register_opts(_CINDER_OPTS, group="cinder")
    conf.register_opts(_MANAGED_OPTS, group="managed")


#: The groups whose options keystoneauth and keystonemiddleware define.
LIBRARY_GROUPS = ("cinder", "keystone_authtoken")
_LIBRARY_LOCK = threading.Lock()
_LIBRARY_REGISTERED = "ironbound_library_opts"


def register_library_opts(conf: cfg.ConfigOpts) -> None:
    """Register the [cinder] and [keystone_authtoken] options of the keystone libraries.

    Their readers (the Cinder client, Keystone tokens) call this, not `load`:
    the two libraries keep about 20 MiB resident that an API without Keystone
    and a conductor that never attaches a Cinder volume have no use for.
    oslo.config reads an option's value from the files when it is registered
    after parsing too. Safe to call again, from any thread.
    """
    with _LIBRARY_LOCK:
        if vars(conf).get(_LIBRARY_REGISTERED):
            return
        from keystoneauth1 import loading as ks_loading  # noqa: PLC0415 (see docstring)
        from keystonemiddleware import auth_token  # noqa: PLC0415

        ks_loading.register_session_conf_options(conf, "cinder")
        ks_loading.register_auth_conf_options(conf, "cinder")
        ks_loading.register_adapter_conf_options(conf, "cinder")
        conf.set_default("service_type", _CINDER_SERVICE_TYPE, group="cinder")
        for group, opts in auth_token.list_opts():
            conf.register_opts(opts, group=group)
        vars(conf)[_LIBRARY_REGISTERED] = True


def load(
    config_files: Sequence[str] = (), overrides: dict[str, object] | None = None
) -> cfg.ConfigOpts:
    """Build a fresh ConfigOpts from files plus `group.option` overrides.

    A fresh object per call (rather than oslo's global CONF) keeps tests and
    the several servers of one process from stepping on each other.
    """
    conf = cfg.ConfigOpts()
    register_opts(conf)
    args: list[str] = []
    for path in config_files:
        args += ["--config-file", path]
    conf(args=args, project="ironbound", default_config_files=[], default_config_dirs=[])
    if any(key.rpartition(".")[0] in LIBRARY_GROUPS for key in overrides or {}):
        register_library_opts(conf)
    for key, value in (overrides or {}).items():
        group, _, name = key.rpartition(".")
        conf.set_override(name, value, group=group or None)
    vars(conf)["ironbound_sources"] = (list(config_files), dict(overrides or {}))
    return conf


def sources(conf: cfg.ConfigOpts) -> tuple[list[str], dict[str, object]]:
    """The files and overrides `conf` was loaded from, to rebuild it in a subprocess."""
    found: tuple[list[str], dict[str, object]] = vars(conf)["ironbound_sources"]
    return found


def state_path(conf: cfg.ConfigOpts) -> Path:
    """The state folder, created on first use with owner-only permissions."""
    path = Path(conf.state_path).absolute()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def key_file(conf: cfg.ConfigOpts) -> Path:
    """The secret key's file: [secrets]key_file, or secret.key in the state folder."""
    configured = conf.secrets.key_file
    return Path(configured).absolute() if configured else state_path(conf) / "secret.key"


def volumes_dir(conf: cfg.ConfigOpts) -> Path:
    """The managed volumes' folder ([managed]volumes_dir, or managed-volumes in state_path),
    not created here."""
    configured = conf.managed.volumes_dir
    path = Path(configured) if configured else Path(conf.state_path) / "managed-volumes"
    return path.absolute()


def image_cache_dir(conf: cfg.ConfigOpts) -> Path:
    """The image cache's folder ([image]cache_dir, or images in the state folder), not created."""
    configured = conf.image.cache_dir
    return Path(configured).absolute() if configured else state_path(conf) / "images"


def protected_paths(conf: cfg.ConfigOpts) -> list[Path]:
    """Files and folders the conductor keeps to itself, which no image source may name: its
    state, key, database, volumes, image cache, option files, htpasswd and dnsmasq files."""
    found = [state_path(conf), key_file(conf), volumes_dir(conf), image_cache_dir(conf)]
    found += [Path(path).absolute() for path in sources(conf)[0]]
    found.append(Path(conf.http_basic_auth_user_file).absolute())
    url = database_url(conf)
    if url.startswith("sqlite:///"):
        found.append(Path(url.removeprefix("sqlite:///")).absolute())
    found += [
        Path(d).absolute() for d in (conf.dnsmasq.dhcp_hostsdir, conf.dnsmasq.dhcp_optsdir) if d
    ]
    return found


def database_url(conf: cfg.ConfigOpts) -> str:
    """The database URL: the configured one, or SQLite in the state folder."""
    if conf.database.connection:
        return str(conf.database.connection)
    return f"sqlite:///{state_path(conf) / 'ironbound.sqlite'}"


def boot_server_url(conf: cfg.ConfigOpts) -> str:
    """Base URL nodes use to reach the boot server, without a trailing slash."""
    if conf.deploy.http_url:
        return str(conf.deploy.http_url).rstrip("/")
    return f"http://{conf.bootserver.host}:{conf.bootserver.port}"


def mac_lookup(conf: cfg.ConfigOpts) -> bool:
    """Whether the boot server finds nodes by MAC: as set, else only where DHCP does not
    hand nodes their script URLs (any host knowing a MAC may race the node for it)."""
    if conf.bootserver.mac_lookup is not None:
        return bool(conf.bootserver.mac_lookup)
    return bool(conf.dhcp.dhcp_provider == "none")


def boot_script_url(conf: cfg.ConfigOpts, token: str) -> str:
    """The URL of the boot script of the node holding `token` (a secret: never log it)."""
    return f"{boot_server_url(conf)}/boot/{token}/script.ipxe"


def boot_confirmation_url(conf: cfg.ConfigOpts, token: str) -> str:
    """Where the booted system of the node holding `token` confirms it came up (a secret)."""
    return f"{boot_server_url(conf)}/boot/{token}/events/up"


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    """Every option by group: the ``oslo.config.opts`` entry point the sample is made from."""
    return [
        (None, _DEFAULT_OPTS),
        ("api", _API_OPTS),
        ("database", _DATABASE_OPTS),
        ("conductor", _CONDUCTOR_OPTS),
        ("deploy", _DEPLOY_OPTS),
        ("image", _IMAGE_OPTS),
        ("agent", _AGENT_OPTS),
        ("bootserver", _BOOTSERVER_OPTS),
        ("dhcp", _DHCP_OPTS),
        ("dnsmasq", _DNSMASQ_OPTS),
        ("secrets", _SECRETS_OPTS),
        ("fake", _FAKE_OPTS),
        ("redfish", _REDFISH_OPTS),
        ("ipmi", _IPMI_OPTS),
        ("cinder", _CINDER_OPTS + _cinder_library_opts()),
        ("managed", _MANAGED_OPTS),
        ("keystone_authtoken", _authtoken_opts() + _password_opts()),
    ]


def sample() -> str:
    """The sample configuration file, as ``oslo-config-generator --namespace ironbound`` writes it.

    :raises RuntimeError: the entry point is not installed, so the sample would be empty.
    """
    if not entry_points(group="oslo.config.opts", name="ironbound"):
        raise RuntimeError("Ironbound's oslo.config.opts entry point is missing: run scripts/setup")
    from oslo_config import generator  # noqa: PLC0415 (only this command needs it, and yaml)

    conf = cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(args=["--namespace", "ironbound"], default_config_files=[], default_config_dirs=[])
    out = io.StringIO()
    generator.generate(conf, out)
    return out.getvalue()
