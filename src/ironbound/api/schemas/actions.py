"""The bodies of node actions: provision and power state, RAID, boot device, maintenance.

Pydantic checks their shape; a body that does not fit is refused in the
words clients have always read (`problems`), not in Pydantic's: a body that
is not an object, then unknown fields, then the first field that is wrong.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from ironbound import errors, states
from ironbound.api import problems
from ironbound.api.schemas.common import StrictModel

A = TypeVar("A", bound="ActionBody")


class ActionBody(StrictModel):
    """A node action's body: a JSON object of known fields."""

    #: How messages name the request, e.g. "power state".
    what: ClassVar[str]

    @classmethod
    def invalid(cls, field: str, value: Any, minor: int) -> errors.IronboundError:
        """The problem to answer when `field` holds `value` (None: missing), which does not fit."""
        raise NotImplementedError

    @classmethod
    def refusal(cls, exc: ValidationError, minor: int) -> errors.IronboundError:
        """The problem to answer for a body Pydantic refused (see the module's order)."""
        found = exc.errors()
        if any(item["type"] == "model_type" for item in found):
            return problems.ActionBodyNotObject(what=cls.what)
        unknown = sorted(str(item["loc"][0]) for item in found if item["type"] == "extra_forbidden")
        if unknown:
            return problems.UnknownActionFields(
                unknown=unknown, what=cls.what, allowed=sorted(cls.model_fields)
            )
        first = found[0]
        value = None if first["type"] == "missing" else first["input"]
        return cls.invalid(str(first["loc"][0]), value, minor)


def read(model: type[A], body: Any, minor: int) -> A:
    """`body` as a `model`, checked at microversion `minor`.

    :raises IronboundError: what `model` answers for the first thing wrong.
    """
    try:
        return model.model_validate(body, context={"minor": minor})
    except ValidationError as exc:
        raise model.refusal(exc, minor) from exc


class ProvisionRequest(ActionBody):
    what = "provision state"
    target: str
    configdrive: Any = None
    clean_steps: Any = None
    rescue_password: str | None = None

    @field_validator("target")
    @classmethod
    def _known_verb(cls, verb: str) -> str:
        if verb not in states.VERBS:
            raise ValueError("not a provision verb")
        return verb

    @classmethod
    def invalid(cls, field: str, value: Any, minor: int) -> errors.IronboundError:
        if field == "rescue_password":
            return problems.RescuePasswordNotText()
        return problems.InvalidProvisionTarget(target=value, allowed=sorted(states.VERBS))


def power_targets(minor: int) -> list[str]:
    """The power state targets microversion `minor` has."""
    return sorted(target for target, since in states.POWER_TARGETS.items() if since <= minor)


class PowerRequest(ActionBody):
    what = "power state"
    target: str

    @field_validator("target")
    @classmethod
    def _offered(cls, target: str, info: ValidationInfo) -> str:
        assert info.context is not None  # read() passes the microversion
        if target not in power_targets(info.context["minor"]):
            raise ValueError("not a power state target of this version")
        return target

    @classmethod
    def invalid(cls, field: str, value: Any, minor: int) -> errors.IronboundError:
        return problems.InvalidPowerTarget(target=value, allowed=power_targets(minor))


class SoftPowerRequest(PowerRequest):
    """From 1.27 on, a power change may bound the wait for a soft power-off."""

    timeout: int | None = Field(default=None, ge=1)  # seconds

    @classmethod
    def invalid(cls, field: str, value: Any, minor: int) -> errors.IronboundError:
        if field == "timeout":
            return problems.InvalidPowerTimeout()
        return super().invalid(field, value, minor)


class RaidRequest(ActionBody):
    logical_disks: list[Any]

    @classmethod
    def refusal(cls, exc: ValidationError, minor: int) -> errors.IronboundError:
        return problems.InvalidRaidConfig()  # one answer for every shape that is wrong


class BootDeviceRequest(ActionBody):
    what = "boot device"
    boot_device: str
    persistent: bool = False

    @classmethod
    def invalid(cls, field: str, value: Any, minor: int) -> errors.IronboundError:
        return problems.InvalidBootDeviceRequest()


class ConsoleRequest(ActionBody):
    what = "console state"
    enabled: bool

    @classmethod
    def invalid(cls, field: str, value: Any, minor: int) -> errors.IronboundError:
        return problems.InvalidConsoleRequest(value=value)


class MaintenanceRequest(ActionBody):
    what = "maintenance"
    reason: str | None = None

    @classmethod
    def invalid(cls, field: str, value: Any, minor: int) -> errors.IronboundError:
        return problems.MaintenanceReasonNotText()
