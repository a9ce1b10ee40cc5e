"""Every operation of graphql/examples/ runs as is against `mdm demo`, on both databases,
with the token its comment names, and that token is needed (the role below is refused)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse

from tests.api.demo import Demo, running_demo, throwaway_pg_database
from tests.conftest import BACKENDS, ROOT

EXAMPLES = sorted((ROOT / "graphql" / "examples").glob("*.graphql"))
ROLES = ["reader", "integrator", "steward", "admin"]


@dataclass(frozen=True)
class ExampleOperation:
    name: str
    kind: str
    role: str


def example_operations(path: Path) -> list[ExampleOperation]:
    """The named operations of an example file, each with the token its comment names.

    The comment lines right above an operation say ``Token: <role>``.
    """
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    operations = []
    for definition in parse(source).definitions:
        assert isinstance(definition, OperationDefinitionNode), f"{path.name}: operations only"
        assert definition.name is not None, f"{path.name}: name every operation"
        assert definition.loc is not None
        above = definition.loc.start_token.line - 2  # 0-based index of the line above
        comment = []
        while above >= 0 and lines[above].startswith("#"):
            comment.append(lines[above])
            above -= 1
        found = re.search(r"Token: (\w+)", "\n".join(comment))
        assert found and found[1] in ROLES, (
            f"{path.name}: say which token {definition.name.value} needs "
            "('# Token: reader|integrator|steward|admin' right above it)"
        )
        operations.append(
            ExampleOperation(definition.name.value, definition.operation.value, found[1])
        )
    return operations


@pytest.fixture(scope="module", params=BACKENDS)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    cwd = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if k != "MDM_DATABASE_URL"}
    if request.param == "sqlite":
        with running_demo(cwd, env, "--database-url", f"sqlite:///{cwd / 'demo.sqlite3'}") as demo:
            yield demo
    else:
        with throwaway_pg_database() as url, running_demo(cwd, env, "--database-url", url) as demo:
            yield demo


def test_every_example_names_its_operations_and_tokens() -> None:
    assert len(EXAMPLES) >= 10
    for path in EXAMPLES:
        assert example_operations(path)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_as_is_with_the_token_it_names(demo: Demo, path: Path) -> None:
    document = path.read_text(encoding="utf-8")
    for operation in example_operations(path):
        body = demo.query(document, operation.role, operation.name)
        assert "errors" not in body, f"{path.name} {operation.name}: {body}"
        data = body["data"]
        assert isinstance(data, dict)
        if operation.kind == "mutation":  # the seed has what the defaults point at
            for field, result in data.items():
                assert result["__typename"].endswith("Success"), (
                    f"{path.name} {operation.name}: {field} {result}"
                )
        if operation.role != "reader":
            lower = ROLES[ROLES.index(operation.role) - 1]
            refused = demo.query(document, lower, operation.name)
            codes = {e["extensions"]["code"] for e in refused.get("errors", [])}  # type: ignore[attr-defined]
            assert codes == {"FORBIDDEN"}, (
                f"{path.name} {operation.name} says it needs {operation.role}, "
                f"but {lower} gets {refused}"
            )
