"""Errors the lab raises, so callers can tell lab trouble from test failures."""


class LabError(RuntimeError):
    """A lab piece could not be set up, driven or stopped."""


class MissingToolError(LabError):
    """A program or file the lab needs is not installed; the message names the apt package."""
