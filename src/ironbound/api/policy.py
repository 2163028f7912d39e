"""Who may do what. Roles come from the authenticated identity.

Rules are Ironic's names where Ironic has them. `noauth` makes every caller
an admin, as Ironic's noauth does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ironbound import errors

READ = "baremetal:read"
WRITE = "baremetal:write"
VIEW_TARGET_PROPERTIES = "baremetal:volume:view_target_properties"
EVENTS = "baremetal:events:post"

RULES: dict[str, frozenset[str]] = {
    READ: frozenset({"admin", "member", "reader"}),
    WRITE: frozenset({"admin", "member"}),
    VIEW_TARGET_PROPERTIES: frozenset({"admin"}),
    # Ironic's default: Neutron's service user or an admin, not a project member.
    EVENTS: frozenset({"admin", "service"}),
}


@dataclass(frozen=True)
class Identity:
    user: str
    roles: frozenset[str]

    def allowed(self, rule: str) -> bool:
        return bool(self.roles & RULES[rule])

    def enforce(self, rule: str) -> None:
        """:raises Forbidden: the identity's roles do not grant `rule`."""
        if not self.allowed(rule):
            raise errors.Forbidden(resource=rule)


ADMIN = Identity(user="admin", roles=frozenset({"admin"}))
