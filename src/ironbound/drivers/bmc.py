"""What the BMC drivers (redfish, ipmi) share: driver_info checks, secrets in messages,
and waiting for a power state.

Each driver keeps its protocol to itself; the rules here are the ones an operator
should find the same whatever the BMC speaks: how a bad key is reported, that a
password never shows, and how long and how a power action is waited for.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any

from oslo_config import cfg

from ironbound import errors
from ironbound.sensitive import Secret

#: Passwords shorter than this are not scrubbed from messages: replacing every
#: "on" or "1" in a message would wreck it, and such a password is no secret.
MIN_SCRUB_LENGTH = 4

# Connection keys carry a keyed hash of the password, so that a changed password gets
# a new connection, while the key itself reveals nothing offline.
_FINGERPRINT_KEY = secrets.token_bytes(32)


def invalid(key: str, reason: str) -> errors.InvalidParameterValue:
    return errors.InvalidParameterValue(reason=f"Invalid driver_info {key}: {reason}")


def parse_text(key: str, value: Any) -> str | None:
    """An optional string value; empty means unset."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(key, f"expected a string, got {type(value).__name__}.")
    return value


def require_text(key: str, value: Any, *, what: str, kind: str = "string") -> str:
    """A required string value, stripped; `what` says what it is, for the missing case."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise errors.MissingParameterValue(reason=f"driver_info {key} is required: {what}")
    if not isinstance(value, str):
        raise invalid(key, f"expected a {kind}, got {type(value).__name__}.")
    return value.strip()


def parse_password(key: str, value: Any) -> Secret | None:
    """An optional password, wrapped (the conductor hands sealed values over as Secret)."""
    if value is None or isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise invalid(key, f"expected a string, got {type(value).__name__}.")
    return Secret(value)


def fingerprint(password: Secret | None) -> str | None:
    """A keyed hash of the password for cache keys (None without one)."""
    if password is None:
        return None
    return hmac.new(_FINGERPRINT_KEY, password.reveal().encode(), hashlib.sha256).hexdigest()


def scrub(text: str, password: Secret | None) -> str:
    """`text` with the password masked, should a BMC ever echo it back."""
    if password is not None:
        clear = password.reveal()
        if len(clear) >= MIN_SCRUB_LENGTH:
            text = text.replace(clear, "******")
    return text


def power_timeout(conf: cfg.ConfigOpts, timeout: float | None, soft: bool) -> float:
    """The wait for a power action: the caller's, else the [conductor] default."""
    if timeout is not None:
        return float(timeout)
    if soft:
        return float(conf.conductor.soft_power_off_timeout)
    return float(conf.conductor.power_state_change_timeout)


def wait_for_power(
    read: Callable[[], str],
    target: str,
    *,
    timeout: float,
    interval: float,
    action: str,
    where: str,
    password: Secret | None,
) -> None:
    """Poll `read` (the state as the BMC words it) until it says `target`.

    A read that raises BMCError (the BMC may drop off the network while the machine
    restarts) is not fatal; only the deadline is.

    :raises PowerStateFailure: `target` not reported within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    seen = "nothing yet"
    while True:
        try:
            current = read()
        except errors.BMCError as exc:
            seen = f"no answer ({exc.fields.get('reason', exc)})"
        else:
            if current == target:
                return
            seen = current
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.PowerStateFailure(
                state=action,
                reason=scrub(
                    f"the BMC still reports {seen} {timeout:g} s later, not {target} ({where})",
                    password,
                ),
            )
        time.sleep(min(interval, remaining))
