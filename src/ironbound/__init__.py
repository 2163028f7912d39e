"""Ironbound: bare-metal provisioning with boot from volume, speaking Ironic's v1 API."""

__version__ = "0.1.0"
