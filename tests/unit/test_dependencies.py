"""Every third-party module the package imports is declared in pyproject.toml.

A module that arrives only as another package's dependency works until that
package drops it; then a fresh install breaks where no test of ours looked.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "ironbound"
#: Loaded by cinder-volume from Cinder's own venv, whose packages it imports.
OUTSIDE = PACKAGE / "lab" / "cinder_backend"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    """The run-time requirements and the optional extras of the service (not `test`)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})
    requirements = project["dependencies"] + [
        r for extra, reqs in extras.items() if extra != "test" for r in reqs
    ]
    return {_normal(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}


def third_party_imports(path: Path) -> set[str]:
    """Top-level names of the modules `path` imports that are neither ours nor stdlib."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n != "ironbound" and n not in sys.stdlib_module_names}


def undeclared(paths: list[Path], declared: set[str]) -> dict[str, str]:
    """Imported module -> why it is not declared (its distribution, or none installed)."""
    distributions = packages_distributions()
    missing: dict[str, str] = {}
    for path in paths:
        for module in third_party_imports(path):
            owners = {_normal(d) for d in distributions.get(module, [])}
            if not owners & declared:
                found = ", ".join(sorted(owners)) or "no installed distribution"
                missing[module] = f"{found} (imported by {path.relative_to(path.parents[2])})"
    return missing


def test_every_third_party_import_is_declared() -> None:
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if OUTSIDE not in p.parents]
    assert undeclared(modules, _declared()) == {}


def test_the_check_sees_an_undeclared_import(tmp_path: Path) -> None:
    module = tmp_path / "a" / "b" / "m.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "import os\nimport sushy.auth\nfrom requests import Session\nfrom . import x\n"
    )
    assert undeclared([module], {"sushy"}) == {"requests": "requests (imported by a/b/m.py)"}
