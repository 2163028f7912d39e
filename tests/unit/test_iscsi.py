"""ironbound.iscsi: iSCSI names and portals (IPv4, IPv6 in brackets, host names)."""

from __future__ import annotations

import pytest

from ironbound.iscsi import DEFAULT_PORT, Portal, is_iscsi_name, parse_portal


@pytest.mark.parametrize(
    "name",
    [
        "iqn.2010-10.org.openstack.node1",
        "iqn.2010-10.org.openstack:node1",
        "iqn.1991-05.com.microsoft:host-1.example.com",
        "IQN.2004-01.COM.EXAMPLE:Vol_1",
        "iqn.2001-04.com.example:storage:diskarrays-sn-a8675309",
        "iqn.2010-10.a",
        "eui.02004567A425678D",
        "naa.52004567BA64678D",
        "naa.52004567BA64678D52004567BA64678D",
        "iqn.2010-10.org.x:" + "a" * (223 - len("iqn.2010-10.org.x:")),
    ],
)
def test_valid_names(name: str) -> None:
    assert is_iscsi_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "node1",
        "iqn.2010-13.org.x",  # month 13
        "iqn.2010-00.org.x",
        "iqn.10-10.org.x",
        "iqn.2010-10.",
        "iqn.2010-10.-org",
        "iqn.2010-10.org-.x",
        "iqn.2010-10.org..x",
        "iqn.2010-10.org.x:",  # an empty identifier
        "iqn.2010-10.org.x:has space",
        "iqn.2010-10.org.x:tab\t",
        "iqn.2010-10.org.x:\u00e9",
        "iqn.2010-10.org.x:" + "a" * 300,
        "iqn.2010-10.org.x:" + "a" * (224 - len("iqn.2010-10.org.x:")),  # 224 characters
        "eui.02004567A425678",  # 15 hex digits
        "eui.02004567A425678G",
        "naa.52004567BA64678D5",  # neither 16 nor 32
        "iqn.2010-10.org.x\nsanboot",
    ],
)
def test_invalid_names(name: str) -> None:
    assert not is_iscsi_name(name)


@pytest.mark.parametrize(
    "name", ["iqn.2010-10.org.x\n", "eui.02004567A425678D\n", "naa.52004567BA64678D\n"]
)
def test_a_trailing_newline_is_not_a_name(name: str) -> None:
    assert not is_iscsi_name(name)


@pytest.mark.parametrize(
    ("text", "host", "port", "uri_host"),
    [
        ("192.0.2.1:3260", "192.0.2.1", 3260, "192.0.2.1"),
        ("192.0.2.1", "192.0.2.1", DEFAULT_PORT, "192.0.2.1"),
        (" 192.0.2.1:3261 ", "192.0.2.1", 3261, "192.0.2.1"),
        ("[fd00::1]:3260", "fd00::1", 3260, "[fd00::1]"),
        ("[fd00::1]", "fd00::1", DEFAULT_PORT, "[fd00::1]"),
        ("[::ffff:192.0.2.1]:1", "::ffff:192.0.2.1", 1, "[::ffff:192.0.2.1]"),
        ("san.example.com:65535", "san.example.com", 65535, "san.example.com"),
        ("san-1", "san-1", DEFAULT_PORT, "san-1"),
    ],
)
def test_parse_portal(text: str, host: str, port: int, uri_host: str) -> None:
    portal = parse_portal(text)
    assert portal == Portal(host=host, port=port)
    assert portal.uri_host() == uri_host
    assert str(portal) == f"{uri_host}:{port}"
    assert portal.is_ipv6 == (":" in host)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("fd00::1:3260", "looks like an IPv6 address"),
        ("fd00::1", "looks like an IPv6 address"),
        ("[fd00::1:3260", "never closes"),
        ("[fd00::g]:3260", "is not an IPv6 address"),
        ("[192.0.2.1]:3260", "is not an IPv6 address"),
        ("[fd00::1]3260", "not ':port'"),
        ("192.0.2.1:0", "not a port number"),
        ("192.0.2.1:65536", "not a port number"),
        ("192.0.2.1:-1", "not a port number"),
        ("192.0.2.1:http", "not a port number"),
        ("192.0.2.1:\u00b2", "\u00b2"),  # int() refuses it (with its own message)
        ("bad host:3260", "neither an IP address nor a host name"),
        ("-bad.example", "neither an IP address nor a host name"),
        ("", "neither an IP address nor a host name"),
        (":3260", "neither an IP address nor a host name"),
    ],
)
def test_invalid_portals(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_portal(text)


def test_an_empty_port_means_the_default_port() -> None:
    assert parse_portal("[fd00::1]:") == Portal(host="fd00::1", port=DEFAULT_PORT)
    assert parse_portal("192.0.2.1:") == Portal(host="192.0.2.1", port=DEFAULT_PORT)


def test_a_host_with_a_newline_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_portal("san\n:3260")
