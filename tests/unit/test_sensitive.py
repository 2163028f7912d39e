"""ironbound.sensitive: which keys are secret, split/reveal/mask, Secret, SecretBox."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from ironbound.errors import InvalidParameterValue
from ironbound.sensitive import MASK, Secret, SecretBox, is_secret_key, mask, reveal, split


@pytest.mark.parametrize(
    "key",
    [
        "auth_password",
        "reverse_auth_password",
        "redfish_password",
        "ipmi_password",
        "IPMI_PASSWORD",
        "passwd",
        "db_pswd",
        "client_secret",
        "agent_token",
        "tokenized",
        "ssh_private_key",
        "passphrase",
        "auth_key",
        "disk_encryption_key",
        # Keys oslo.utils' mask_dict_password masks, which Ironic uses (issue 24).
        "adminpass",
        "fernetkey",
        "sslkey",
        "encrypted_key",
        "rabbitcookie",
        "cephclusterfsid",
        "swifthashsuffix",
        "chapsecret",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["auth_username", "reverse_auth_username", "target_iqn", "redfish_address", "key", "bypass"],
)
def test_plain_keys(key: str) -> None:
    assert not is_secret_key(key)


# --- split -----------------------------------------------------------------------


def test_split_masks_and_collects_by_pointer() -> None:
    data = {
        "auth_username": "ABC",
        "auth_password": "XYZ",
        "nested": {"bmc_password": "p1", "keep": 1},
        "list": [{"secret": "s0"}, {"plain": "x"}],
    }
    masked, found = split(data, {})
    assert masked == {
        "auth_username": "ABC",
        "auth_password": MASK,
        "nested": {"bmc_password": MASK, "keep": 1},
        "list": [{"secret": MASK}, {"plain": "x"}],
    }
    assert found == {"/auth_password": "XYZ", "/nested/bmc_password": "p1", "/list/0/secret": "s0"}
    assert data["auth_password"] == "XYZ"  # the input is not modified


def test_split_escapes_pointer_characters() -> None:
    masked, found = split({"a/b": {"x~password": "v"}}, {})
    assert found == {"/a~1b/x~0password": "v"}
    assert masked == {"a/b": {"x~password": MASK}}


def test_split_keeps_the_previous_secret_for_the_mask() -> None:
    masked, found = split({"auth_password": MASK}, {"/auth_password": "stored"})
    assert masked == {"auth_password": MASK}
    assert found == {"/auth_password": "stored"}


def test_split_takes_a_new_value_over_the_previous_one() -> None:
    _, found = split({"auth_password": "new"}, {"/auth_password": "stored"})
    assert found == {"/auth_password": "new"}


def test_split_mask_without_a_previous_secret_is_the_mask_itself() -> None:
    _, found = split({"auth_password": MASK}, {"/other": "x"})
    assert found == {"/auth_password": MASK}


def test_split_drops_secrets_that_are_gone() -> None:
    _, found = split({"auth_username": "u"}, {"/auth_password": "stored"})
    assert found == {}


def test_split_leaves_null_secrets_alone() -> None:
    masked, found = split({"auth_password": None}, {"/auth_password": "stored"})
    assert masked == {"auth_password": None}
    assert found == {}


def test_split_keeps_non_string_secrets() -> None:
    masked, found = split({"token": {"id": 7}}, {})
    assert masked == {"token": MASK}
    assert found == {"/token": {"id": 7}}


def test_a_moved_secret_is_not_carried_to_its_new_place() -> None:
    # The previous secret belongs to its pointer: a mask elsewhere is not it.
    _, found = split({"b": {"password": MASK}}, {"/a/password": "stored"})
    assert found == {"/b/password": MASK}


# --- reveal and mask -----------------------------------------------------------------


def test_reveal_puts_secrets_back() -> None:
    data = {"auth_password": "XYZ", "n": [{"secret": "s"}], "x~/password": "e", "u": "ABC"}
    masked, found = split(data, {})
    assert reveal(masked, found) == data


def test_reveal_does_not_overwrite_a_value_that_is_not_the_mask() -> None:
    assert reveal({"auth_password": "changed"}, {"/auth_password": "old"}) == {
        "auth_password": "changed"
    }


def test_reveal_skips_pointers_that_no_longer_resolve() -> None:
    masked = {"a": [1], "b": "text"}
    found = {"/gone/password": "x", "/a/5/password": "y", "/a/x/password": "z", "/b/0": "w"}
    assert reveal(masked, found) == masked


def test_reveal_does_not_modify_its_input() -> None:
    masked = {"auth_password": MASK}
    reveal(masked, {"/auth_password": "XYZ"})
    assert masked == {"auth_password": MASK}


def test_mask() -> None:
    data: Any = {"a": [{"password": "p", "user": "u"}], "token": None, "b": 1}
    assert mask(data) == {"a": [{"password": MASK, "user": "u"}], "token": None, "b": 1}
    assert mask(["x", 1]) == ["x", 1]
    assert data["a"][0]["password"] == "p"


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=6)
json_tree = st.recursive(
    json_leaf,
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(
            st.sampled_from(["password", "auth_password", "user", "a/b", "x~y", "token", "k"]),
            kids,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["password", "user", "k", "n"]), json_tree, max_size=4))
def test_split_then_reveal_round_trips(data: dict[str, Any]) -> None:
    masked, found = split(data, {})
    assert reveal(masked, found) == data
    assert masked == mask(data)
    # Splitting the masked document again with the secrets as "previous" keeps them.
    assert split(masked, found) == (masked, found)


@pytest.mark.parametrize(
    "value",
    ["--password hunter2", "openstack --password hunter2 server list", "-p x --password=hunter2"],
)
def test_a_password_inside_a_plain_value_is_sealed_and_shown_masked(value: str) -> None:
    data = {"kernel_append_params": value, "user": "x"}
    masked, found = split(data, {})
    assert "hunter2" not in str(masked) and "hunter2" not in str(mask(data))
    assert masked == mask(data) and MASK in masked["kernel_append_params"]
    assert found == {"/kernel_append_params": value}
    assert reveal(masked, found) == data
    # Written back as shown, the stored value is kept; a new value replaces it.
    assert split(masked, found) == (masked, found)
    assert split({"kernel_append_params": "quiet", "user": "x"}, found)[1] == {}


def test_a_password_inside_a_list_element_is_sealed_and_shown_masked() -> None:
    data = {"args": ["console=ttyS0", "--password hunter2"]}
    masked, found = split(data, {})
    assert "hunter2" not in str(masked) and masked == mask(data)
    assert reveal(masked, found) == data


# --- Secret ---------------------------------------------------------------------------


def test_secret_hides_itself() -> None:
    secret = Secret("hunter2")
    assert str(secret) == MASK
    assert repr(secret) == "Secret('******')"
    assert f"{secret}" == MASK
    assert "hunter2" not in repr({"password": secret})
    assert secret.reveal() == "hunter2"


def test_secret_equality_and_hash() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert len({Secret("a"), Secret("a")}) == 1


def test_secret_in_a_log_record_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    logging.getLogger("test").info("login with %s (%r)", Secret("hunter2"), Secret("hunter2"))
    assert "hunter2" not in caplog.text
    assert MASK in caplog.text


# --- SecretBox -------------------------------------------------------------------------------


def test_box_round_trip_and_ciphertext() -> None:
    box = SecretBox(Fernet.generate_key())
    sealed = box.seal({"/auth_password": "XYZ"})
    assert sealed is not None
    assert "XYZ" not in sealed
    assert box.open(sealed) == {"/auth_password": "XYZ"}
    assert box.seal({"/auth_password": "XYZ"}) != sealed  # a fresh IV each time


def test_box_nothing_to_seal() -> None:
    box = SecretBox(Fernet.generate_key())
    assert box.seal({}) is None
    assert box.open(None) == {}
    assert box.open("") == {}


def test_box_with_another_key_refuses() -> None:
    sealed = SecretBox(Fernet.generate_key()).seal({"/p": "x"})
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox(Fernet.generate_key()).open(sealed)


def test_box_refuses_tampered_ciphertext() -> None:
    box = SecretBox(Fernet.generate_key())
    sealed = box.seal({"/p": "x"})
    assert sealed is not None
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(ValueError):
        box.open(tampered)


def test_box_refuses_a_sealed_non_mapping() -> None:
    key = Fernet.generate_key()
    sealed = Fernet(key).encrypt(b"[1, 2]").decode()
    with pytest.raises(ValueError, match="not a mapping"):
        SecretBox(key).open(sealed)


def test_box_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    first = SecretBox.from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = first.seal({"/p": "x"})
    second = SecretBox.from_file(path)
    assert second.open(sealed) == {"/p": "x"}


def test_box_key_file_made_by_another_process_meanwhile_is_the_one_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes starting on a fresh state folder end up with one key, never an empty one."""
    path = tmp_path / "secret.key"
    theirs = Fernet.generate_key()
    link = os.link

    def they_were_first(source: str, target: Path) -> None:
        target.write_bytes(theirs)
        link(source, target)

    monkeypatch.setattr(os, "link", they_were_first)
    ours = SecretBox.from_file(path)
    assert ours.open(SecretBox(theirs).seal({"/p": "z"})) == {"/p": "z"}
    assert [entry.name for entry in tmp_path.iterdir()] == ["secret.key"]


def test_box_key_file_with_a_trailing_newline(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    path = tmp_path / "secret.key"
    path.write_bytes(key + b"\n")
    assert SecretBox.from_file(path).open(SecretBox(key).seal({"/p": "y"})) == {"/p": "y"}


@pytest.mark.parametrize(
    "key",
    ["admin_pass", "adminPass", "new_pass", "configdrive", "AdminPassword", "ssh_key",
     "sys_pswd", "credentials", "auth_token", "mutual_chap_secret", "ipmi_password"],
)  # fmt: skip
def test_every_key_ironic_masks_is_masked(key: str) -> None:
    assert is_secret_key(key)
    assert mask({key: "x"}) == {key: MASK}


@pytest.mark.parametrize(
    "key", ["bypass", "compass", "passthrough", "auth_username", "target_iqn", "user_data"]
)
def test_ordinary_keys_stay_readable(key: str) -> None:
    assert not is_secret_key(key)


CREDENTIALS = {
    "creds": [
        {"user": "a", "password": "p0"},
        {"user": "b", "password": "p1"},
    ]
}


def _stored() -> tuple[dict[str, Any], dict[str, Any]]:
    return split(CREDENTIALS, {})


def test_a_kept_secret_follows_its_list_element_when_one_before_it_is_removed() -> None:
    masked, secrets = _stored()
    after = {"creds": [masked["creds"][1]]}  # the client removed element 0
    _, kept = split(after, secrets, masked)
    assert kept == {"/creds/0/password": "p1"}


def test_a_kept_secret_follows_its_list_element_when_one_is_inserted() -> None:
    masked, secrets = _stored()
    after = {"creds": [{"user": "new", "password": "p9"}, *masked["creds"]]}
    _, kept = split(after, secrets, masked)
    assert kept == {"/creds/0/password": "p9", "/creds/1/password": "p0", "/creds/2/password": "p1"}


def test_an_element_edited_in_place_keeps_its_secret() -> None:
    masked, secrets = _stored()
    after = {"creds": [{"user": "a2", "password": MASK}, masked["creds"][1]]}
    _, kept = split(after, secrets, masked)
    assert kept == {"/creds/0/password": "p0", "/creds/1/password": "p1"}


def test_a_masked_secret_whose_element_moved_and_changed_is_refused() -> None:
    masked, secrets = _stored()
    after = {"creds": [{"user": "b2", "password": MASK}]}  # removed 0 and edited 1
    with pytest.raises(InvalidParameterValue, match="/creds/0/password"):
        split(after, secrets, masked)
