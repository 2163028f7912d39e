"""driver_info checks, the connection cache, and how BMC failures read."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ironbound import errors
from ironbound.drivers.redfish import client
from ironbound.drivers.redfish.management import RedfishManagement
from ironbound.drivers.redfish.power import RedfishPower
from ironbound.sensitive import Secret

from ._support import FakeTask, make_conf, make_node
from .conftest import BMC_PASSWORD, BMC_USER, FAST_PASSWORD, WRONG_PASSWORD
from .emulator import Emulator, free_port

# --- validate: no BMC involved ---------------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("https://bmc.example.com", "https://bmc.example.com"),
        ("http://10.0.0.5:8000", "http://10.0.0.5:8000"),
        ("HTTPS://BMC.example.com/", "https://bmc.example.com"),
        ("10.0.0.5", "https://10.0.0.5"),
        ("bmc-7:8443", "https://bmc-7:8443"),
        ("[fd00::5]:8443", "https://[fd00::5]:8443"),
        ("fd00::5", "https://[fd00::5]"),
        ("  http://127.0.0.1:8000  ", "http://127.0.0.1:8000"),
    ],
)
def test_address_forms_accepted(address: str, expected: str) -> None:
    assert client.parse_driver_info({"redfish_address": address}).address == expected


def test_defaults_and_full_driver_info(tmp_path: Path) -> None:
    info = client.parse_driver_info({"redfish_address": "bmc"})
    assert (info.system_id, info.username, info.password) == (None, None, None)
    assert (info.verify_ca, info.auth_type) == (True, "auto")

    info = client.parse_driver_info(
        {
            "redfish_address": "https://bmc",
            "redfish_system_id": "/redfish/v1/Systems/1/",
            "redfish_username": "root",
            "redfish_password": Secret("calvin-calvin"),
            "redfish_verify_ca": str(tmp_path),
            "redfish_auth_type": "session",
        }
    )
    assert info.system_id == "/redfish/v1/Systems/1"
    assert info.username == "root"
    assert info.password == Secret("calvin-calvin")
    assert info.verify_ca == str(tmp_path)
    assert info.auth_type == "session"
    assert "calvin-calvin" not in repr(info)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("false", False), ("No", False), ("True", True), ("1", True)],
)
def test_verify_ca_booleans(value: Any, expected: bool) -> None:
    info = client.parse_driver_info({"redfish_address": "bmc", "redfish_verify_ca": value})
    assert info.verify_ca is expected


def test_verify_ca_bundle_file(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not checked here")
    info = client.parse_driver_info({"redfish_address": "bmc", "redfish_verify_ca": str(bundle)})
    assert info.verify_ca == str(bundle)


def test_plain_string_password_is_wrapped() -> None:
    info = client.parse_driver_info({"redfish_address": "bmc", "redfish_password": "plain-pw"})
    assert isinstance(info.password, Secret)
    assert info.password.reveal() == "plain-pw"


@pytest.mark.parametrize(
    ("driver_info", "error", "words"),
    [
        ({}, errors.MissingParameterValue, ["redfish_address", "required"]),
        ({"redfish_address": " "}, errors.MissingParameterValue, ["redfish_address"]),
        ({"redfish_address": 42}, errors.InvalidParameterValue, ["redfish_address", "int"]),
        ({"redfish_address": "ftp://bmc"}, errors.InvalidParameterValue,
         ["redfish_address", "'ftp'", "http or https"]),
        ({"redfish_address": "http://"}, errors.InvalidParameterValue,
         ["redfish_address", "no host"]),
        ({"redfish_address": "bmc:99999"}, errors.InvalidParameterValue,
         ["redfish_address", "not a valid URL"]),
        ({"redfish_address": "bmc:http"}, errors.InvalidParameterValue,
         ["redfish_address", "not a valid URL"]),
        ({"redfish_address": "bmc:0"}, errors.InvalidParameterValue, ["redfish_address", "port 0"]),
        ({"redfish_address": "https://bmc/redfish/v1"}, errors.InvalidParameterValue,
         ["redfish_address", "redfish_system_id"]),
        ({"redfish_address": "https://bmc?x=1"}, errors.InvalidParameterValue,
         ["redfish_address"]),
        ({"redfish_address": "bmc", "redfish_system_id": "1"}, errors.InvalidParameterValue,
         ["redfish_system_id", "/redfish/v1/Systems/1"]),
        ({"redfish_address": "bmc", "redfish_system_id": "/redfish/v1/Managers/1"},
         errors.InvalidParameterValue, ["redfish_system_id"]),
        ({"redfish_address": "bmc", "redfish_system_id": 7}, errors.InvalidParameterValue,
         ["redfish_system_id"]),
        ({"redfish_address": "bmc", "redfish_verify_ca": "/nonexistent/ca.pem"},
         errors.InvalidParameterValue, ["redfish_verify_ca", "/nonexistent/ca.pem", "boolean"]),
        ({"redfish_address": "bmc", "redfish_verify_ca": 5}, errors.InvalidParameterValue,
         ["redfish_verify_ca", "boolean"]),
        ({"redfish_address": "bmc", "redfish_auth_type": "digest"}, errors.InvalidParameterValue,
         ["redfish_auth_type", "'digest'", "auto, basic, session"]),
        ({"redfish_address": "bmc", "redfish_username": ["root"]}, errors.InvalidParameterValue,
         ["redfish_username"]),
        ({"redfish_address": "bmc", "redfish_password": 1234}, errors.InvalidParameterValue,
         ["redfish_password"]),
    ],
)  # fmt: skip
def test_bad_driver_info_rejected(
    driver_info: dict[str, Any], error: type[Exception], words: list[str]
) -> None:
    task = FakeTask(conf=make_conf(), node=make_node(driver_info))
    for interface in (RedfishPower(task.conf), RedfishManagement(task.conf)):
        with pytest.raises(error) as caught:
            interface.validate(task)
        assert type(caught.value) is error
        for word in words:
            assert word in str(caught.value)


def test_credentials_in_address_rejected_without_echoing_them() -> None:
    with pytest.raises(errors.InvalidParameterValue) as caught:
        client.parse_driver_info({"redfish_address": "https://root:hunter2-pw@bmc"})
    assert "redfish_username" in str(caught.value)
    assert "hunter2-pw" not in str(caught.value)


def test_properties_describe_every_key() -> None:
    conf = make_conf()
    expected = {
        "redfish_address",
        "redfish_system_id",
        "redfish_username",
        "redfish_password",
        "redfish_verify_ca",
        "redfish_auth_type",
    }
    for interface in (RedfishPower(conf), RedfishManagement(conf)):
        properties = interface.get_properties()
        assert set(properties) == expected
        assert all(isinstance(text, str) and text for text in properties.values())
    assert "Required" in RedfishPower(conf).get_properties()["redfish_address"]


# --- connections ------------------------------------------------------------


def _info(emulator: Emulator, **extra: Any) -> dict[str, Any]:
    return {"redfish_address": emulator.address, **extra}


def test_connection_reused_per_bmc_and_credentials(fast_info: dict[str, Any]) -> None:
    conf = make_conf()
    power = RedfishPower(conf)
    task = FakeTask(conf=conf, node=make_node(fast_info))
    power.get_power_state(task)
    power.get_power_state(task)
    RedfishManagement(conf).get_boot_device(task)
    redfish = client.client_for(conf)
    assert len(redfish.cache) == 1
    info = client.parse_driver_info(task.node.driver_info)
    assert redfish.root(conf, info) is redfish.root(conf, info)

    # A new password is a new connection: the old session must not outlive it.
    changed = make_node({**fast_info, "redfish_password": "another-Passw0rd"})
    power.get_power_state(FakeTask(conf=conf, node=changed))
    assert len(redfish.cache) == 2


def test_connection_cache_is_bounded_lru(fast_bmc: Emulator, system_id: str) -> None:
    conf = make_conf(**{"redfish.connection_cache_size": 2})
    redfish = client.client_for(conf)
    infos = [
        client.parse_driver_info(
            _info(fast_bmc, redfish_system_id=system_id, redfish_username=f"user{n}")
        )
        for n in range(3)
    ]
    first = redfish.root(conf, infos[0])
    redfish.root(conf, infos[1])
    assert redfish.root(conf, infos[0]) is first  # refreshed: user1 is now the oldest
    redfish.root(conf, infos[2])
    assert len(redfish.cache) == 2
    assert redfish.root(conf, infos[0]) is first


def test_connection_cache_can_be_disabled(fast_info: dict[str, Any]) -> None:
    conf = make_conf(**{"redfish.connection_cache_size": 0})
    RedfishPower(conf).get_power_state(FakeTask(conf=conf, node=make_node(fast_info)))
    assert len(client.client_for(conf).cache) == 0


def test_configurations_do_not_share_connections(fast_info: dict[str, Any]) -> None:
    one, two = make_conf(), make_conf()
    assert client.client_for(one) is client.client_for(one)
    assert client.client_for(one) is not client.client_for(two)


# --- failures ---------------------------------------------------------------


def test_unreachable_bmc_fails_quickly_after_bounded_retries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conf = make_conf(**{"redfish.connection_attempts": 3, "redfish.connection_retry_interval": 0.1})
    address = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    node = make_node(
        {
            "redfish_address": address,
            "redfish_system_id": "/redfish/v1/Systems/abc",
            "redfish_password": FAST_PASSWORD,
        }
    )
    started = time.monotonic()
    with pytest.raises(errors.BMCError) as caught:
        RedfishPower(conf).get_power_state(FakeTask(conf=conf, node=node))
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert node.uuid in message
    assert "connection refused" in message
    assert "after 3 attempts" in message
    assert f"system /redfish/v1/Systems/abc at {address}" in message
    assert FAST_PASSWORD not in message
    assert 0.2 <= elapsed < 3.0
    retries = [r for r in caplog.records if "unreachable (attempt" in r.getMessage()]
    assert [r.getMessage().split("attempt ")[1][:6] for r in retries] == ["1 of 3", "2 of 3"]
    assert len(client.client_for(conf).cache) == 0


def test_wrong_system_id_names_it_and_lists_the_real_ones(fast_bmc: Emulator, conf: Any) -> None:
    node = make_node(_info(fast_bmc, redfish_system_id="/redfish/v1/Systems/no-such-node"))
    with pytest.raises(errors.BMCError) as caught:
        RedfishPower(conf).get_power_state(FakeTask(conf=conf, node=node))
    message = str(caught.value)
    assert "system /redfish/v1/Systems/no-such-node does not exist" in message
    assert fast_bmc.address in message
    assert "redfish_system_id" in message
    assert fast_bmc.system_ids[0] in message or ", ..." in message


def test_several_systems_need_a_system_id(secure_bmc: Emulator, conf: Any) -> None:
    assert secure_bmc.tls is not None
    node = make_node(
        _info(
            secure_bmc,
            redfish_username=BMC_USER,
            redfish_password=BMC_PASSWORD,
            redfish_verify_ca=str(secure_bmc.tls.ca),
        )
    )
    with pytest.raises(errors.BMCError) as caught:
        RedfishPower(conf).get_power_state(FakeTask(conf=conf, node=node))
    message = str(caught.value)
    assert "redfish_system_id is not set" in message
    assert "exactly one system" in message
    for system_id in secure_bmc.system_ids:
        assert system_id in message


def test_single_system_found_without_system_id(slow_bmc: Emulator, conf: Any) -> None:
    node = make_node(_info(slow_bmc))
    assert RedfishPower(conf).get_power_state(FakeTask(conf=conf, node=node)) in (
        "power on",
        "power off",
    )


def _secure_node(emulator: Emulator, **extra: Any) -> Any:
    assert emulator.tls is not None
    return make_node(
        {
            "redfish_address": emulator.address,
            "redfish_system_id": emulator.system_ids[0],
            "redfish_username": BMC_USER,
            "redfish_password": BMC_PASSWORD,
            "redfish_verify_ca": str(emulator.tls.ca),
            **extra,
        }
    )


@pytest.mark.parametrize("auth_type", ["auto", "basic"])
def test_basic_auth_and_tls_with_private_ca(
    secure_bmc: Emulator, conf: Any, auth_type: str
) -> None:
    node = _secure_node(secure_bmc, redfish_auth_type=auth_type)
    assert RedfishPower(conf).get_power_state(FakeTask(conf=conf, node=node)) == "power off"


@pytest.mark.parametrize("auth_type", ["auto", "basic"])
def test_wrong_password_is_a_clear_error_without_the_password(
    secure_bmc: Emulator, conf: Any, auth_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    node = _secure_node(secure_bmc, redfish_password=WRONG_PASSWORD, redfish_auth_type=auth_type)
    started = time.monotonic()
    with pytest.raises(errors.BMCError) as caught:
        RedfishPower(conf).get_power_state(FakeTask(conf=conf, node=node))
    assert time.monotonic() - started < 2.0  # refused credentials are not retried
    message = str(caught.value)
    assert "refused the credentials" in message
    assert "user 'admin'" in message
    assert "HTTP 401" in message
    assert secure_bmc.address in message
    assert WRONG_PASSWORD not in message
    assert WRONG_PASSWORD not in repr(caught.value.fields)
    assert WRONG_PASSWORD not in caplog.text
    assert len(client.client_for(conf).cache) == 0  # a refused connection is not kept


def test_session_auth_on_a_bmc_without_sessions(secure_bmc: Emulator, conf: Any) -> None:
    node = _secure_node(secure_bmc, redfish_auth_type="session")
    with pytest.raises(errors.BMCError) as caught:
        RedfishPower(conf).get_power_state(FakeTask(conf=conf, node=node))
    message = str(caught.value)
    # This emulator answers its missing session service with 401 (its auth
    # middleware runs first); a real BMC without one answers 404.
    assert "refused the session login" in message
    assert "redfish_auth_type" in message
    assert secure_bmc.address in message
    assert BMC_PASSWORD not in message


def test_untrusted_certificate_fails_at_once(
    secure_bmc: Emulator, conf: Any, caplog: pytest.LogCaptureFixture
) -> None:
    node = _secure_node(secure_bmc, redfish_verify_ca=True)
    with pytest.raises(errors.BMCError) as caught:
        RedfishPower(conf).get_power_state(FakeTask(conf=conf, node=node))
    message = str(caught.value)
    assert "TLS certificate verification failed" in message
    assert "attempts" not in message
    assert "unreachable (attempt" not in caplog.text


def test_verification_can_be_turned_off(
    secure_bmc: Emulator, conf: Any, caplog: pytest.LogCaptureFixture
) -> None:
    node = _secure_node(secure_bmc, redfish_verify_ca="false")
    assert RedfishPower(conf).get_power_state(FakeTask(conf=conf, node=node)) == "power off"
    assert "TLS certificate verification is disabled" in caplog.text


def test_a_password_echoed_by_a_bmc_is_scrubbed() -> None:
    info = client.parse_driver_info({"redfish_address": "bmc", "redfish_password": "echo-Me-99"})
    bmc = client.BMC(make_conf(), info, "node-1")
    error = bmc.failure(ValueError("login echo-Me-99 rejected"), "logging in")
    assert "echo-Me-99" not in str(error)
    assert "login ****** rejected" in str(error)
    assert "while logging in (the only system at https://bmc)" in str(error)
