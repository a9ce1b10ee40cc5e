"""The GraphQL layer holds no SQL: it calls service functions that own the tables.

DESIGN.md: "The GraphQL layer calls service functions; it holds no SQL and no matching
logic." Resolvers may open a session and hand it to a service function, nothing more.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mdm

API = Path(mdm.__file__).parent / "api"
MODULES = sorted(API.glob("*.py"))
QUERY_METHODS = frozenset({"execute", "scalar", "scalars", "query", "exec_driver_sql"})


def _sql_in(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    found = [f"text {word!r}" for word in ("sqlalchemy", "select(") if word in source]
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("sqlalchemy")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found.append(f"from {node.module} import …")
        elif isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "session":
                found.append(f"line {node.lineno}: session.{node.attr}")
            elif node.attr in QUERY_METHODS:
                found.append(f"line {node.lineno}: .{node.attr}(…)")
    return found


def test_the_api_modules_are_found() -> None:
    assert {"schema.py", "context.py", "records.py"} <= {p.name for p in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_api_module_runs_no_sql(path: Path) -> None:
    assert _sql_in(path) == [], f"{path.name}: move the query into a service module"
