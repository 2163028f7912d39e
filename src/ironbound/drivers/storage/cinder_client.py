"""Talking to OpenStack Cinder: a session from [cinder], the attachments API, errors.

The cinder storage interface needs five calls: read a volume, create an
attachment for a connector, complete it, read it back, delete it. They go
through openstacksdk's block-storage proxy on a keystoneauth session built
from the [cinder] options Ironic uses, so an operator's ``ironic.conf``
section carries over. Three rules live here:

* Every request is bounded: the session timeout is ``[cinder]timeout``, or
  ``[cinder]default_timeout`` when that is unset, and connection failures
  are retried ``[cinder]retries`` times by keystoneauth.
* Attach actions that fail are retried ``action_retries`` times,
  ``action_retry_interval`` apart; answers that cannot heal by waiting
  (404, 400, 403, 409) are not retried.
* Nothing openstacksdk or keystoneauth raise leaves this module: it becomes a
  `StorageError` naming the call, the volume and what Cinder said, and never
  a credential (connection data stays in the returned dicts).

Requests carry a service token as well as the user token (Ironic's fix for
CVE-2023-2088): Cinder deletes an attachment that names an instance only for
a service. Cinder deployed with ``auth_strategy = noauth`` wants
``X-Auth-Token: <user>:<project>`` on every request, version discovery
included; with keystoneauth's ``admin_token`` plugin the token is therefore
sent as a plain header, with the service role Keystone would have vouched for.

keystoneauth and openstacksdk are imported at the first call, not with the
module: the registry loads the cinder interface at start wherever it is
enabled, and the two libraries keep about 15 MiB resident that a conductor
never attaching a Cinder volume has no use for.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity
from oslo_config import cfg

from ironbound import config, errors

LOG = logging.getLogger(__name__)
T = TypeVar("T")

GROUP = "cinder"
#: Cinder answers that waiting will not change.
_PERMANENT = frozenset({400, 401, 403, 404, 409, 413})


@dataclass(frozen=True)
class Volume:
    """What the storage interface needs to know of a Cinder volume."""

    id: str
    status: str
    multiattach: bool
    #: (attachment id, instance/server id) of every attachment Cinder lists.
    attachments: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class Attachment:
    id: str
    volume_id: str
    status: str
    instance: str | None
    #: Cinder's connection_info: driver_volume_type plus the target's data.
    connection_info: dict[str, Any]


def _status(exc: Exception) -> int | None:
    code = getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
    return code if isinstance(code, int) else None


def _noauth_headers(token: str) -> dict[str, str]:
    """What Keystone's middleware would tell a noauth Cinder about a service's request.

    Cinder deletes an attachment that names an instance only for a service
    (since CVE-2023-2088); anyone else has it ask Nova first. Ironbound is the
    service that made the attachment, so it says so, as its service token
    does under Keystone.
    """
    return {"X-Auth-Token": token, "X-Service-Roles": "service"}


def _permanent(exc: Exception) -> bool:
    """Waiting will not change the answer: Cinder refused, or [cinder] is wrong."""
    from keystoneauth1 import exceptions as ks_exceptions  # noqa: PLC0415 (see module doc)

    return _status(exc) in _PERMANENT or isinstance(
        exc, ks_exceptions.AuthPluginException | ks_exceptions.EndpointNotFound
    )


def _may_heal(exc: BaseException) -> bool:
    """A failure of Cinder's (not of Ironbound's code) that waiting may heal."""
    from keystoneauth1 import exceptions as ks_exceptions  # noqa: PLC0415 (see module doc)
    from openstack import exceptions as sdk_exceptions  # noqa: PLC0415

    failures = (sdk_exceptions.SDKException, ks_exceptions.ClientException)
    return isinstance(exc, failures) and not _permanent(exc)


def _warn_retry(what: str, attempts: int, state: tenacity.RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    reason = f"{what}: {_explain(exc)}" if isinstance(exc, Exception) else what
    LOG.warning("%s (attempt %d of %d; retrying)", reason, state.attempt_number, attempts)


def _explain(exc: Exception) -> str:
    """What went wrong, in Cinder's words where it gave some."""
    from keystoneauth1 import exceptions as ks_exceptions  # noqa: PLC0415 (see module doc)
    from openstack import exceptions as sdk_exceptions  # noqa: PLC0415

    if isinstance(exc, ks_exceptions.MissingAuthPlugin):
        return (
            "[cinder]auth_type is not set: set it to password (with auth_url, username, "
            "password, ...) or, for a Cinder without Keystone, admin_token with endpoint and token"
        )
    if isinstance(exc, ks_exceptions.ConnectFailure | ks_exceptions.ConnectTimeout):
        return f"Cinder is unreachable ({type(exc).__name__})"
    if isinstance(exc, ks_exceptions.DiscoveryFailure | ks_exceptions.EndpointNotFound):
        return f"Cinder's endpoint could not be found: {exc}"
    if isinstance(exc, sdk_exceptions.HttpException):
        details = exc.details or exc.message or ""
        return f"Cinder answered {exc.status_code}: {details}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


class CinderClient:
    """One Cinder endpoint, as configured in [cinder]; safe to share between threads."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        self._proxy: Any = None

    def _block_storage(self) -> Any:
        if self._proxy is None:
            from keystoneauth1 import loading as ks_loading  # noqa: PLC0415 (see module doc)
            from keystoneauth1 import service_token, token_endpoint  # noqa: PLC0415
            from openstack import connection as sdk_connection  # noqa: PLC0415

            config.register_library_opts(self.conf)
            group = self.conf[GROUP]
            auth = ks_loading.load_auth_from_conf_options(self.conf, GROUP)
            session = ks_loading.load_session_from_conf_options(self.conf, GROUP, auth=auth)
            if session.timeout is None:
                session.timeout = group.default_timeout
            if isinstance(auth, token_endpoint.Token) and auth.token:
                session.additional_headers.update(_noauth_headers(auth.token))
            elif auth is not None:
                session.auth = service_token.ServiceTokenAuthWrapper(auth, auth)
            connection = sdk_connection.Connection(
                session=session,
                block_storage_api_version="3",
                block_storage_endpoint_override=group.endpoint_override,
                block_storage_service_type=group.service_type,
                block_storage_interface=group.valid_interfaces or group.interface,
                region_name=group.region_name,
                connect_retries=group.retries,
            )
            self._proxy = connection.block_storage
        return self._proxy

    def _call(self, what: str, action: Callable[[Any], T], *, retried: bool = False) -> T:
        """Run one call; retry it when `retried` and the failure may heal."""
        from keystoneauth1 import exceptions as ks_exceptions  # noqa: PLC0415 (see module doc)
        from openstack import exceptions as sdk_exceptions  # noqa: PLC0415

        group = self.conf[GROUP]
        attempts = 1 + (group.action_retries if retried else 0)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts),
            wait=tenacity.wait_fixed(group.action_retry_interval),
            retry=tenacity.retry_if_exception(_may_heal),
            before_sleep=functools.partial(_warn_retry, what, attempts),
            reraise=True,
        )
        try:
            return retrying(lambda: action(self._block_storage()))
        except (sdk_exceptions.SDKException, ks_exceptions.ClientException) as exc:
            raise CinderError(reason=f"{what}: {_explain(exc)}", status=_status(exc)) from exc

    def get_volume(self, volume_id: str) -> Volume:
        volume = self._call(f"reading volume {volume_id}", lambda bs: bs.get_volume(volume_id))
        return Volume(
            id=volume.id,
            status=str(volume.status),
            multiattach=bool(volume.is_multiattach),
            attachments=tuple(
                (str(a.get("attachment_id")), a.get("server_id")) for a in volume.attachments or ()
            ),
        )

    def attach(self, volume_id: str, connector: dict[str, Any], instance: str) -> Attachment:
        """Create an attachment for `connector` and mark it complete (volume: in-use)."""
        try:
            created = self._call(
                f"attaching volume {volume_id}",
                lambda bs: bs.create_attachment(
                    volume_id, connector=connector, instance=instance, attach_mode="rw"
                ),
                retried=True,
            )
        except CinderError:
            # Cinder may keep the attachment it reserved before its back end failed.
            self._remove_leftovers(volume_id, instance)
            raise
        attachment = _attachment(created, volume_id)
        try:
            self._call(
                f"completing the attachment of volume {volume_id}",
                lambda bs: bs.complete_attachment(attachment.id),
                retried=True,
            )
        except CinderError:
            self.delete_attachment(attachment.id, volume_id, quietly=True)
            raise
        return attachment

    def _remove_leftovers(self, volume_id: str, instance: str) -> None:
        """Delete every attachment of `volume_id` held by `instance` (after a failed attach)."""
        try:
            found = self._call(
                f"listing the attachments of volume {volume_id}",
                lambda bs: list(bs.attachments(volume_id=volume_id, instance_id=instance)),
            )
        except CinderError as exc:
            LOG.warning("Could not look for leftovers: %s", exc.message)
            return
        for attachment in found:
            if attachment.volume_id == volume_id and attachment.instance == instance:
                self.delete_attachment(attachment.id, volume_id, quietly=True)

    def get_attachment(self, attachment_id: str, volume_id: str) -> Attachment | None:
        """The attachment, or None when Cinder no longer has it."""
        try:
            found = self._call(
                f"reading attachment {attachment_id} of volume {volume_id}",
                lambda bs: bs.get_attachment(attachment_id),
            )
        except CinderError as exc:
            if exc.status == 404:
                return None
            raise
        return _attachment(found, volume_id)

    def delete_attachment(
        self, attachment_id: str, volume_id: str, *, quietly: bool = False
    ) -> None:
        """Delete an attachment (gone already counts as done); `quietly` logs failures instead."""
        try:
            self._call(
                f"detaching volume {volume_id} (attachment {attachment_id})",
                lambda bs: bs.delete_attachment(attachment_id, ignore_missing=True),
                retried=True,
            )
        except CinderError as exc:
            if not quietly:
                raise
            LOG.warning("Could not roll back: %s", exc.message)


def _attachment(found: Any, volume_id: str) -> Attachment:
    return Attachment(
        id=str(found.id),
        volume_id=str(found.volume_id or volume_id),
        status=str(found.status),
        instance=found.instance,
        connection_info=dict(found.connection_info or {}),
    )


class CinderError(errors.StorageError):
    """A Cinder call failed; `status` is Cinder's HTTP status when it answered."""

    def __init__(self, *, reason: str, status: int | None) -> None:
        super().__init__(reason, reason=reason)
        self.status = status
