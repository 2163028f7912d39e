"""The parts of docs/architecture.md an import contract cannot see.

`lint-imports` (scripts/check) keeps the rooms layered; these keep every SQL
statement and every write of a unit of work in db/, every kind of job runnable and
heavy libraries out of start-up.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from ironbound.conductor.flows import FLOWS
from ironbound.jobspec import JobKind

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "ironbound"

#: What SQLAlchemy builds statements from. `Session` and `Row` stay allowed
#: outside db/: they are how a handler holds a unit of work and a list row.
STATEMENT_BUILDERS = frozenset(
    {
        "select",
        "insert",
        "update",
        "delete",
        "exists",
        "func",
        "and_",
        "or_",
        "not_",
        "text",
        "literal",
        "case",
        "aliased",
        "column",
        "table",
    }
)


def _sql_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [f"{node.module}.{a.name}" for a in node.names if a.name in STATEMENT_BUILDERS]
    return found


def _modules_outside_db() -> list[Path]:
    return [
        path for path in sorted(PACKAGE.rglob("*.py")) if path.relative_to(PACKAGE).parts[0] != "db"
    ]


@pytest.mark.parametrize(
    "path", _modules_outside_db(), ids=lambda p: str(p.relative_to(PACKAGE.parent))
)
def test_sql_is_written_only_in_db(path: Path) -> None:
    assert _sql_imports(path) == [], f"{path.name} builds SQL; move the query into db/"


def test_the_check_sees_a_statement_builder(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from sqlalchemy import select, Row\nfrom sqlalchemy.orm import Session\n")
    assert _sql_imports(module) == ["sqlalchemy.select"]


#: What a `Session` persists or queries with. Outside db/ a session is only held:
#: opened, passed to db/ functions, and its ORM rows changed in place.
SESSION_CALLS = frozenset(
    {
        "add",
        "add_all",
        "delete",
        "flush",
        "merge",
        "refresh",
        "expunge",
        "execute",
        "scalar",
        "scalars",
        "get",
        "query",
        "connection",
        "commit",
        "rollback",
        "bulk_save_objects",
        "bulk_insert_mappings",
        "bulk_update_mappings",
    }
)


def _session_calls(path: Path) -> list[str]:
    """`session.add(...)` and its kin: calls of SESSION_CALLS on a name that holds a session."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id.endswith("session")
            and node.func.attr in SESSION_CALLS
        ):
            found.append(f"{node.func.value.id}.{node.func.attr} (line {node.lineno})")
    return found


@pytest.mark.parametrize(
    "path", _modules_outside_db(), ids=lambda p: str(p.relative_to(PACKAGE.parent))
)
def test_persistence_is_only_in_db(path: Path) -> None:
    assert _session_calls(path) == [], f"{path.name} persists; call a db/ function instead"


def test_the_check_sees_persistence(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def f(session, write_session, row):\n"
        "    session.add(row)\n    write_session.flush()\n    row.node_id = 1\n"
        "    session.begin()\n"
    )
    assert _session_calls(module) == ["session.add (line 2)", "write_session.flush (line 3)"]


def test_every_job_kind_has_a_flow() -> None:
    assert set(FLOWS) == set(JobKind)


@pytest.mark.parametrize("kind", list(JobKind), ids=str)
def test_every_flow_takes_its_kinds_arguments(kind: JobKind) -> None:
    """The record the claim parses the job's row into is the one the flow declares."""
    assert typing.get_type_hints(FLOWS[kind])["args"] is kind.arguments


def test_only_reading_jobs_are_shared() -> None:
    """A shared job runs beside an exclusive one without the node's lock: it must not write."""
    shared = {kind for kind in JobKind if kind.shared}
    assert shared == {JobKind.VALIDATE, JobKind.GET_BOOT_DEVICE, JobKind.SUPPORTED_BOOT_DEVICES}
    assert all(kind.synchronous for kind in shared)
    assert not any(kind.provision for kind in shared)


def test_serving_imports_no_client_library() -> None:
    """Start-up leaves the client libraries to their first use (they cost resident memory).

    The service, the boot server and the cinder interface (the registry loads it at start)
    import neither keystonemiddleware, keystoneauth, openstacksdk, the config generator,
    Jinja2 nor the BMC libraries: most configurations never use them.
    """
    heavy = ["keystonemiddleware", "keystoneauth1", "openstack", "oslo_config.generator"]
    heavy += ["sushy", "pyghmi", "jinja2"]
    probe = (
        "import sys, ironbound.service, ironbound.bootserver.app, ironbound.drivers.storage.cinder\n"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"
