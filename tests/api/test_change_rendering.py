# ruff: noqa: F811 (the fixture `stream` is a parameter name)
"""Change events rendered once and shared (``mdm.api.change_render``) read exactly as GraphQL
execution gives them: a subscription and a ``changes`` page served over the wire (both
rendered) and the same page executed by GraphQL alone in this process answer the same,
with the same selection and role, on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from graphql import OperationDefinitionNode, parse

from mdm.api.change_render import renderer_for, selection_shape
from mdm.api.changes import change_cursor
from mdm.api.context import Context
from mdm.api.schema import build_schema
from mdm.auth import Principal, Role
from mdm.hub import Hub
from mdm.settings import Settings
from tests.api.test_subscriptions import (  # noqa: F401 (fixtures)
    INGEST,
    Stream,
    server_env,
    stream,
    take,
    vendors,
)

EVERY_FIELD = """position cursor schemaVersion kind entityType goldenId version recordStatus
  mergedInto mergedFrom attributes changes { attribute old new __typename }
  sourceIds { system sourceId } removedSourceIds { system sourceId __typename }
  actor correlationId createdAt __typename"""
SELECTIONS = {  # name: (selection, fragments, role)
    "every field": (EVERY_FIELD, "", "integrator"),
    "a reader's": (
        "position kind attributes changes { attribute old new } createdAt",
        "",
        "reader",
    ),
    "aliases, fragments, directives": (
        """p: position ...Ids ... on ChangeEvent { k: kind changes { a: attribute } }
           kind @skip(if: $yes) goldenId @include(if: $yes) version @include(if: false)
           ... @skip(if: true) { actor }""",
        "fragment Ids on ChangeEvent { position goldenId sourceIds { sourceId } }",
        "integrator",
    ),
    "one key twice, merged": (
        "changes { attribute } changes { new } c: changes { old }",
        "",
        "reader",
    ),
}


def _documents(selection: str, fragments: str) -> tuple[str, str]:
    yes = ", $yes: Boolean!" if "$yes" in selection else ""
    subscription = f"""subscription($after: String{yes}) {{
      goldenRecordChanges(after: $after) {{ {selection} }} }} {fragments}"""
    page = f"""query($after: String{yes}) {{
      changes(after: $after, first: 100) {{ edges {{ node {{ {selection} }} }} }}
      again: changes(after: $after, first: 100) {{
        pageInfo {{ hasNextPage }} nodes {{ {selection} }}
        e: edges {{ __typename cursor n: node {{ {selection} }} }} }} }} {fragments}"""
    return subscription, page


def _merge(stream: Stream) -> None:
    """Events of every kind the tests read: created, updated, merged (with merged-away ids
    and reference-free attribute changes), and an item whose maker is a reference (which
    only the integrator role sees)."""
    stream.query(INGEST, {"records": [
        {"entityType": "vendor", "system": "ERP", "sourceId": "V1",
         "attributes": {"name": "Northwind Surgical Inc", "tax_id": "41-2847561"}},
        {"entityType": "vendor", "system": "EHR", "sourceId": "O1",
         "attributes": {"name": "Northwind Surgical", "duns": "150483782"}},
    ]}, role="integrator")  # fmt: skip
    stream.query(INGEST, {"records": [
        {"entityType": "vendor", "system": "PROCUREMENT", "sourceId": "P1",
         "attributes": {"name": "Northwind Surgical Inc", "tax_id": "41-2847561",
                        "duns": "150483782", "city": "Denver"}},
        {"entityType": "item", "system": "ERP", "sourceId": "I1",
         "attributes": {"description": "GAUZE SPONGE 4X4", "manufacturer": "V1"}},
    ]}, role="integrator")  # fmt: skip


@pytest.mark.parametrize("name", SELECTIONS)
def test_a_rendered_event_reads_as_graphql_execution_gives_it(stream: Stream, name: str) -> None:
    _merge(stream)
    newest = stream.head()
    selection, fragments, role = SELECTIONS[name]
    subscription, page = _documents(selection, fragments)
    variables: dict[str, Any] = {"after": change_cursor(0)}
    if "$yes" in selection:
        variables["yes"] = True
    executed = _executed(stream, page, variables, role)
    assert "errors" not in executed, executed
    served = stream.query(page, variables, role=role)  # its event lists rendered
    assert served == executed
    nodes = [e["node"] for e in executed["data"]["changes"]["edges"]]
    assert len(nodes) == newest >= 4
    again = executed["data"]["again"]
    assert again["pageInfo"] == {"hasNextPage": False}
    assert again["nodes"] == [e["n"] for e in again["e"]] == nodes
    assert [e["cursor"] for e in again["e"]] == [change_cursor(p) for p in range(1, newest + 1)]
    assert {e["__typename"] for e in again["e"]} == {"ChangeEventEdge"}
    rendered = asyncio.run(
        take(stream.url, stream.tokens[role], newest, variables, document=subscription)
    )
    assert rendered == nodes
    assert nodes and all(nodes)
    references = [v for n in nodes for v in n.get("attributes", {}).values() if type(v) is dict]
    assert bool(references) == (role == "integrator" and "attributes" in selection)


def test_a_page_rendered_ahead_reaches_only_a_poller_who_selects_and_sees_the_same(
    stream: Stream,
) -> None:
    """After a full page, the next pages are read and rendered ahead for that poller's
    selection and role. A poller of another role asking for the same events (the same
    cursor, size, filter and payload members) gets them rendered for itself: the item
    whose maker is a reference reaches each role as GraphQL execution gives it."""
    _merge(stream)
    stream.ingest(vendors("AHEAD", 2))
    page = """query($after: String, $types: [String!]) {
      changes(after: $after, first: 1, entityTypes: $types) {
        edges { cursor node { position attributes } } pageInfo { hasNextPage } } }"""
    everything = stream.query(page.replace("first: 1", "first: 50"), {}, role="integrator")
    (item,) = [
        int(e["node"]["position"])
        for e in everything["data"]["changes"]["edges"]
        if any(type(v) is dict for v in e["node"]["attributes"].values())
    ]
    assert 2 <= item < stream.head()
    # A filter of its own for each order: nothing read ahead before is taken.
    orders = {("integrator", "reader"): ["item", "vendor"],
              ("reader", "integrator"): ["item", "vendor", "location"]}  # fmt: skip
    for (first_role, then), types in orders.items():
        before = {"after": change_cursor(item - 2), "types": types}
        assert stream.query(page, before, role=first_role)["data"]["changes"]["pageInfo"] == {
            "hasNextPage": True
        }  # the item's page is read and rendered ahead for first_role
        variables = {"after": change_cursor(item - 1), "types": types}
        served = stream.query(page, variables, role=then)
        assert served == _executed(stream, page, variables, then), then
        (node,) = [e["node"] for e in served["data"]["changes"]["edges"]]
        assert int(node["position"]) == item
        references = [v for v in node["attributes"].values() if type(v) is dict]
        assert bool(references) == (then == "integrator")


def _executed(stream: Stream, document: str, variables: dict[str, Any], role: str) -> Any:
    """The document executed in this process by GraphQL alone (no ``Context.rendered``)."""
    hub = Hub(Settings(database_url=stream.database_url))
    try:
        schema = build_schema(hub.specs, hub.settings)
        context = Context(hub=hub, principal=Principal("test", Role[role.upper()]),
                          request_id="test")  # fmt: skip
        result = schema.execute_sync(document, variables, context_value=context)
    finally:
        hub.close()
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [e.formatted for e in result.errors]
    return orjson.loads(orjson.dumps(body))


def _shape(selection: str, *, sees_ids: bool, variables: Any = None) -> Any:
    document = parse(f"subscription {{ goldenRecordChanges {{ {selection} }} }}")
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    field = operation.selection_set.selections[0]
    return selection_shape([field], {}, variables, sees_ids=sees_ids)  # type: ignore[list-item]


def test_only_what_renders_exactly_is_rendered() -> None:
    assert _shape("position kind", sees_ids=False) == (
        ("position", "position", None),
        ("kind", "kind", None),
    )
    # A crosswalk field below the integrator role is execution's to refuse (FORBIDDEN).
    assert _shape("position sourceIds { system }", sees_ids=False) is None
    assert _shape("position sourceIds { system }", sees_ids=True) is not None
    assert _shape("position @deprecated", sees_ids=True) is None  # not @skip / @include
    assert _shape("position nosuch", sees_ids=True) is None


def test_one_renderer_per_shape_role_and_systems() -> None:
    shape = _shape("position", sees_ids=True)
    first = renderer_for(shape, True, frozenset({"ERP"}))
    assert renderer_for(shape, True, frozenset({"ERP"})) is first
    assert renderer_for(shape, False, frozenset({"ERP"})) is not first
    assert renderer_for(shape, True, None) is not first


def test_a_position_read_from_another_database_is_rendered_again() -> None:
    """Positions restart in a new (or restored, or truncated) database: a kept rendering
    is used only for the very event it was made from."""
    from datetime import UTC, datetime

    from mdm.changes import Change

    renderer = renderer_for(_shape("position goldenId", sees_ids=True), True, None)

    def event(golden_id: str) -> Change:
        created = datetime(2026, 12, 7, tzinfo=UTC)
        return Change(1, "created", "vendor", golden_id, 1, {}, None, None, created)

    assert orjson.loads(renderer.text(event("VEN-1"))) == {"position": 1, "goldenId": "VEN-1"}
    assert orjson.loads(renderer.text(event("VEN-9"))) == {"position": 1, "goldenId": "VEN-9"}


class _FailingSocket:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def send_text(self, text: str) -> None:
        raise self.error


def test_a_direct_send_that_fails_ends_its_operation_not_the_feed() -> None:
    """The feed sends to idle subscribers itself (``RenderedSender.sink``): a socket that
    breaks, whatever the error, marks that operation over and reports the event handled,
    so the feed goes on to the next subscriber; an operation that is over, or whose token
    re-check is due, declines (its task takes the event)."""
    from types import SimpleNamespace

    from mdm.api.websocket import RenderedSender
    from mdm.changes import Change
    from mdm.store import utcnow

    shape = selection_shape(
        parse("subscription { goldenRecordChanges { position } }").definitions[0]  # type: ignore[attr-defined]
        .selection_set.selections, {}, {}, sees_ids=True,
    )  # fmt: skip
    assert shape is not None
    renderer = renderer_for(shape, True, None)
    event = Change(1, "created", "vendor", "G1", 1, {}, None, None, utcnow())
    outcomes = []
    for error in (ValueError("boom"), RuntimeError("closed"), OSError("reset")):
        operation = SimpleNamespace(id="1", completed=False)
        handler = SimpleNamespace(
            websocket=SimpleNamespace(ws=_FailingSocket(error)), operations={"1": operation}
        )
        sink = RenderedSender(handler, operation).sink(  # type: ignore[arg-type]
            renderer, "goldenRecordChanges", lambda: False
        )
        outcomes.append((sink(event), operation.completed, sink(event)))
    assert outcomes == [(True, True, False)] * 3
    operation = SimpleNamespace(id="1", completed=False)
    socket = SimpleNamespace(ws=_FailingSocket(ValueError()))
    over = SimpleNamespace(websocket=socket, operations={})  # cleaned up already
    live = SimpleNamespace(websocket=socket, operations={"1": operation})
    gone = RenderedSender(over, operation).sink(renderer, "k", lambda: False)  # type: ignore[arg-type]
    due = RenderedSender(live, operation).sink(renderer, "k", lambda: True)  # type: ignore[arg-type]
    assert gone(event) is False and due(event) is False and not operation.completed
