"""Ironic's link pairs: a versioned self link and an unversioned bookmark."""

from __future__ import annotations


def pair(base_url: str, path: str) -> list[dict[str, str]]:
    """``[{href: <base>/v1/<path>, rel: self}, {href: <base>/<path>, rel: bookmark}]``."""
    return [
        {"href": f"{base_url}/v1/{path}", "rel": "self"},
        {"href": f"{base_url}/{path}", "rel": "bookmark"},
    ]
