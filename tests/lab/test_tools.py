"""A missing tool is an error that names the Debian package to install."""

import pytest

from ironbound.lab import tools
from ironbound.lab.errors import MissingToolError


def test_missing_program_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tools.APT_PACKAGES, "ironbound-no-such-tool", "ironbound-pkg")
    with pytest.raises(MissingToolError) as missing:
        tools.program("ironbound-no-such-tool")
    expected = "ironbound-no-such-tool not found: apt-get install --no-install-recommends"
    assert str(missing.value) == f"{expected} ironbound-pkg"


def test_missing_file_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tools.APT_PACKAGES, "/nonexistent/OVMF.fd", "ovmf")
    with pytest.raises(MissingToolError, match="apt-get install --no-install-recommends ovmf"):
        tools.file("/nonexistent/OVMF.fd")


def test_programs_in_sbin_are_found_without_sbin_on_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert tools.program("tgtd") == "/usr/sbin/tgtd"
