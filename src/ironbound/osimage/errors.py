"""The one error an image build raises, with the failing step and its output."""


class OsImageError(RuntimeError):
    """A build step failed or a host tool is missing (the message says which, and why)."""
