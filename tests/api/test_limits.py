"""What one request may ask of the hub, and that a heavy one does not hold up the others.

Pure checks of the measures (fragment fan-out, cost, list lengths) run in this process;
what travels over HTTP (bodies, status codes, latency while a heavy request runs) runs
against a real ``mdm serve`` on both databases.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    get_introspection_query,
    parse,
    validate,
    visit,
)
from graphql.language import Visitor
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.extensions import QueryDepthLimiter
from strawberry.extensions.max_aliases import count_fields_with_alias

from mdm.api.cost import DEFAULT_LIST_FACTOR, estimate_operation
from mdm.api.documents import measure_document
from mdm.api.schema import build_schema
from mdm.api.workers import OperationWorkers
from mdm.app import create_app
from mdm.auth import Role, create_token
from mdm.settings import Settings
from mdm.specs import DEFAULT_SPECS
from tests.conftest import Server

SETTINGS = Settings()
SCHEMA = build_schema(DEFAULT_SPECS, SETTINGS)


def fan_out(width: int, levels: int) -> str:
    """``levels`` fragments, each spreading the next ``width`` times: width^levels fields."""
    fragments = [
        f"fragment F{i} on Query {{ {' '.join([f'...F{i + 1}'] * width)} }}" for i in range(levels)
    ]
    return " ".join(["{ ...F0 }", *fragments, f"fragment F{levels} on Query {{ __typename }}"])


def selection_nodes(document: Any) -> int:
    class Count(Visitor):
        found = 0

        def enter(self, node: Any, *_: Any) -> None:
            if isinstance(node, FieldNode | FragmentSpreadNode | InlineFragmentNode):
                Count.found += 1

    visit(document, Count())
    return Count.found


def first_operation(document: Any) -> OperationDefinitionNode:
    return next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))


def execute(document: str, variables: dict[str, Any] | None = None) -> Any:
    """Run a document in this process (no database: only refusals get this far)."""
    return asyncio.run(SCHEMA.execute(document, variable_values=variables))


# -- fragment fan-out: each fragment measured once -----------------------------------------

FAN_OUTS = [
    pytest.param(6, 8, id="6x8"),
    pytest.param(8, 10, id="8x10"),
    pytest.param(50, 20, id="50x20"),
]


@pytest.mark.parametrize(("width", "levels"), FAN_OUTS)
def test_fan_out_is_measured_with_one_visit_per_selection(width: int, levels: int) -> None:
    document = parse(fan_out(width, levels))
    shape = measure_document(document)
    assert shape.fields == width**levels  # the expanded size, exactly
    assert shape.visits == selection_nodes(document)  # linear: each node of the text once


@pytest.mark.parametrize(("width", "levels"), FAN_OUTS)
def test_fan_out_is_refused_as_too_complex_before_anything_runs(width: int, levels: int) -> None:
    result = execute(fan_out(width, levels))
    assert result.data is None
    [error] = result.errors
    assert error.extensions["code"] == "QUERY_TOO_COMPLEX"
    assert error.extensions["limit"] == "fields"
    assert error.extensions["measured"] == width**levels
    assert f"{SETTINGS.max_query_fields:,}" in error.message


def test_a_fragment_cycle_ends_and_is_reported() -> None:
    cycle = "{ ...A } fragment A on Query { ...B __typename } fragment B on Query { ...A }"
    assert measure_document(parse(cycle)).fields == 0  # the walk follows no spread
    result = execute(cycle)
    assert result.data is None
    assert "Cannot spread fragment 'A' within itself" in result.errors[0].message


# Random documents whose fragments spread only later ones (no cycles), small enough for
# Strawberry's own limiters, which walk every spread: both must agree.


@st.composite
def documents(draw: st.DrawFn) -> str:
    fragment_count = draw(st.integers(0, 3))

    def selections(depth: int, spreadable: range) -> str:
        items = []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["field", "field", "inline", "spread"]))
            if kind == "spread" and len(spreadable):
                items.append(f"...F{draw(st.sampled_from(spreadable))}")
            elif kind == "inline" and depth < 4:
                items.append(f"... on Query {{ {selections(depth + 1, spreadable)} }}")
            else:
                name = draw(st.sampled_from(["a", "b", "__typename", "__schema"]))
                alias = f"x{draw(st.integers(0, 9))}: " if draw(st.booleans()) else ""
                nested = depth < 4 and name != "__typename" and draw(st.booleans())
                below = f" {{ {selections(depth + 1, spreadable)} }}" if nested else ""
                items.append(f"{alias}{name}{below}")
        return " ".join(items)

    fragments = [
        f"fragment F{i} on Query {{ {selections(0, range(i + 1, fragment_count))} }}"
        for i in range(fragment_count)
    ]
    return " ".join([f"{{ {selections(0, range(fragment_count))} }}", *fragments])


def expanded_fields(selection_set: Any, fragments: dict[str, Any]) -> int:
    """The specification: expand every spread, count the fields."""
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += 1
            if selection.selection_set:
                total += expanded_fields(selection.selection_set, fragments)
        elif isinstance(selection, InlineFragmentNode):
            total += expanded_fields(selection.selection_set, fragments)
        else:
            total += expanded_fields(fragments[selection.name.value].selection_set, fragments)
    return total


ANY_SCHEMA = GraphQLSchema(GraphQLObjectType("Query", {"a": GraphQLField(GraphQLString)}))


@settings(max_examples=300, deadline=None)
@given(documents())
def test_depth_aliases_and_size_agree_with_expanding_every_spread(text: str) -> None:
    document = parse(text)
    shape = measure_document(document)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = first_operation(document)
    assert shape.fields == expanded_fields(operation.selection_set, fragments)
    assert shape.aliases == count_fields_with_alias(operation, fragments)
    for max_depth in range(6):
        rules = QueryDepthLimiter(max_depth=max_depth).validation_rules
        assert bool(validate(ANY_SCHEMA, document, rules)) == (shape.depth > max_depth), text


def test_the_depth_limit_keeps_its_message() -> None:
    deep = "{ vendors { nodes { " + "sourceRecords { golden { " * 8 + "id" + " } }" * 8 + " } } }"
    result = execute(deep)
    [error] = result.errors
    assert error.message == (
        f"'anonymous' exceeds maximum operation depth of {SETTINGS.max_query_depth}"
    )
    assert error.extensions["limit"] == "depth"


def test_thirty_aliases_pass_and_thirty_one_do_not() -> None:
    def aliased(n: int) -> str:
        return "{ " + " ".join(f"a{i}: __typename" for i in range(n)) + " }"

    assert execute(aliased(30)).errors is None
    [error] = execute(aliased(31)).errors
    assert error.message == "31 aliases found. Allowed: 30"
    assert error.extensions["code"] == "QUERY_TOO_COMPLEX"


# -- cost ------------------------------------------------------------------------------------

PAGE = "query($n: Int) { vendors(first: $n) { nodes { id sourceRecords { system } } } }"


def cost_of(document: str, variables: dict[str, Any] | None = None) -> int:
    parsed = parse(document)
    return estimate_operation(
        SCHEMA._schema,
        parsed,
        first_operation(parsed),
        variables,
        max_page_size=500,
        max_batch_size=1000,
    ).cost


@pytest.mark.parametrize(
    ("variables", "page"),
    [
        pytest.param({"n": 20}, 20, id="first-from-a-variable"),
        pytest.param({}, 50, id="the-argument-default"),
        pytest.param({"n": 10**9}, 500, id="clamped-to-the-page-limit"),
        pytest.param({"n": -5}, 0, id="negative-is-empty"),
    ],
)
def test_cost_is_page_size_times_what_each_node_asks(variables: dict, page: int) -> None:
    # Per vendor: nodes' element (1) + id (1) + sourceRecords (1 + 10 lists x system).
    per_node = 1 + 1 + 1 + DEFAULT_LIST_FACTOR
    assert cost_of(PAGE, variables) == 1 + page * per_node


def test_a_list_argument_sets_the_length_of_the_list_it_answers() -> None:
    batch = """query($ids: [String!]!) {
      crosswalkBatch(entityType: "vendor", system: "ERP", sourceIds: $ids) { golden { id } } }"""
    assert cost_of(batch, {"ids": ["a", "b", "c"]}) == 1 + 3 * 2


def test_introspection_costs_nothing() -> None:
    assert cost_of(get_introspection_query()) == 0
    assert execute(get_introspection_query()).errors is None


def test_thirty_full_pages_with_nested_lists_are_refused_with_cost_and_limit() -> None:
    page = "items(first: 500) { nodes { manufacturer { id } sourceRecords { raw golden { id } } } }"
    document = "{ " + " ".join(f"a{i}: {page}" for i in range(30)) + " }"
    result = execute(document)
    assert result.data is None
    [error] = result.errors
    assert error.extensions["code"] == "QUERY_TOO_COMPLEX"
    assert error.extensions["limit"] == "cost"
    estimate = cost_of(document)
    assert estimate > SETTINGS.max_query_cost
    assert error.extensions["measured"] == estimate
    assert f"{estimate:,}" in error.message and f"{SETTINGS.max_query_cost:,}" in error.message
    # One such page is an ordinary request.
    assert cost_of("{ " + page + " }") <= SETTINGS.max_query_cost


# -- list lengths, measured before anything converts them -----------------------------------

INGEST_BATCH = """mutation($records: [SourceRecordInput!]!) { ingestRecords(records: $records) {
  __typename ... on InvalidInputError { code field message } } }"""


def test_an_oversized_batch_is_refused_before_its_records_are_converted() -> None:
    # Empty objects are not SourceRecordInputs: had anything converted them, the answer
    # would be "Variable '$records' got invalid value", not the batch limit.
    records = [{}] * (SETTINGS.max_batch_size + 1)
    result = execute(INGEST_BATCH, {"records": records})
    assert result.errors is None
    assert result.data == {
        "ingestRecords": {
            "__typename": "InvalidInputError",
            "code": "BATCH_TOO_LARGE",
            "field": "records",
            "message": f"batch of {len(records)} records exceeds the limit of 1000",
        }
    }


def test_an_oversized_list_argument_is_an_error_naming_it() -> None:
    document = """query($ids: [String!]!) {
      crosswalkBatch(entityType: "vendor", system: "ERP", sourceIds: $ids) { found } }"""
    result = execute(document, {"ids": [1] * 1001})  # numbers: not converted either
    [error] = result.errors
    assert error.extensions == {"code": "BATCH_TOO_LARGE", "field": "sourceIds"}
    assert error.message == "batch of 1001 sourceIds exceeds the limit of 1000"


def test_a_list_inside_an_input_object_is_measured_too() -> None:
    document = "query($f: GoldenRecordFilter) { vendors(first: 1, filter: $f) { nodes { id } } }"
    parsed = parse(document)
    found = estimate_operation(
        SCHEMA._schema,
        parsed,
        first_operation(parsed),
        {"f": {"attributes": [{"name": "a", "value": "b"}] * 1001}},
        max_page_size=500,
        max_batch_size=1000,
    )
    assert [(o.field, o.length) for o in found.oversized] == [("filter.attributes", 1001)]
    assert found.oversized_variables == (("f", ("attributes",)),)


# -- one operation, introspection ----------------------------------------------------------

TWO_OPERATIONS = "query A { __typename } query B { sourceSystems { code } }"


def test_several_operations_need_an_operation_name() -> None:
    result = execute(TWO_OPERATIONS)
    assert result.data is None
    assert result.errors[0].extensions["code"] == "OPERATION_NAME_REQUIRED"
    named = asyncio.run(SCHEMA.execute(TWO_OPERATIONS, operation_name="A"))
    assert named.errors is None and named.data == {"__typename": "Query"}


@pytest.mark.parametrize(
    "document",
    [
        pytest.param("{ __schema { queryType { name } } }", id="__schema"),
        pytest.param('{ __type(name: "Vendor") { name } }', id="__type"),
    ],
)
def test_introspection_is_refused_when_switched_off(document: str) -> None:
    closed = build_schema(DEFAULT_SPECS, Settings(introspection=False))
    refused = asyncio.run(closed.execute(document))
    assert refused.data is None
    assert "introspection has been disabled" in refused.errors[0].message
    assert asyncio.run(closed.execute("{ __typename }")).errors is None
    assert asyncio.run(SCHEMA.execute(document)).errors is None  # on by default


# -- the worker threads --------------------------------------------------------------------


def test_operations_run_on_worker_threads_each_with_a_loop_that_lasts() -> None:
    workers = OperationWorkers(1)

    async def where() -> tuple[int, int]:
        return threading.get_ident(), id(asyncio.get_running_loop())

    async def fail() -> None:
        raise ValueError("from the worker")

    async def twice() -> list[tuple[int, int]]:
        return [await workers.run(where), await workers.run(where)]

    try:
        first, second = asyncio.run(twice())
        assert first[0] != threading.get_ident()
        assert first == second  # the same thread keeps its loop (DataLoaders bind to it)
        with pytest.raises(ValueError, match="from the worker"):
            asyncio.run(workers.run(fail))
    finally:
        workers.close()


# -- over HTTP, against a real server --------------------------------------------------------


def post_raw(server: Server, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/graphql",
        content=body,
        headers={
            "Authorization": f"Bearer {server.tokens['admin']}",
            "Content-Type": "application/json",
            **headers,
        },
        timeout=30,
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"42", id="number"),
        pytest.param(b"null", id="null"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"x"', id="string"),
        pytest.param(b'{"query": "{ __typename \xff }"}', id="invalid-utf-8"),
        pytest.param(b"{query: nope", id="not-json"),
        pytest.param(b"[" * 5000 + b"]" * 5000, id="nested-5000-arrays"),
        pytest.param(b'{"a":' * 5000 + b"1" + b"}" * 5000, id="nested-5000-objects"),
        pytest.param(b'{"query": "{ __typename }", "variables": []}', id="variables-array"),
        pytest.param(b'{"query": "{ __typename }", "variables": "x"}', id="variables-string"),
        pytest.param(b'{"query": 42}', id="query-number"),
        pytest.param(b'{"query": "{ __typename }", "operationName": 7}', id="name-number"),
        pytest.param(b"{}", id="no-query"),
    ],
)
def test_a_bad_body_is_a_400_with_a_json_error(server: Server, body: bytes) -> None:
    response = post_raw(server, body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"]


def test_get_with_variables_that_are_not_an_object_is_a_400(server: Server) -> None:
    with server.client() as client:
        response = client.get("/graphql", params={"query": "{ __typename }", "variables": "[1]"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_the_body_limit_is_a_setting(database_url: str) -> None:
    app = create_app(
        Settings(
            database_url=database_url,
            max_body_bytes=200,
            graphql_workers=1,
            background_reevaluation=False,
        )
    )
    with app.state.hub.database.session() as session:
        headers = {"Authorization": f"Bearer {create_token(session, 't', Role.ADMIN)}"}

    async def exchange() -> tuple[httpx.Response, httpx.Response]:
        async with app.router.lifespan_context(app):  # closes the hub and the workers
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
                small = {"query": "{ sourceSystems { code } }"}
                large = {"query": "{ __typename }", "variables": {"pad": "x" * 200}}
                return (
                    await client.post("/graphql", json=small, headers=headers),
                    await client.post("/graphql", json=large, headers=headers),
                )

    small, large = asyncio.run(exchange())
    assert small.json() == {"data": {"sourceSystems": []}}
    assert large.status_code == 413
    assert large.json()["errors"][0]["extensions"] == {"code": "PAYLOAD_TOO_LARGE"}


def raw_exchange(server: Server, head: str, chunks: Iterable[bytes] = ()) -> tuple[int, dict]:
    """Send a request head (and body chunks) on a socket; read the answer, not waiting for
    the request to end: a server that waited for the rest of the body would time out."""
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=15) as sock:
        sock.sendall(head.encode())
        for chunk in chunks:
            sock.sendall(chunk)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


def head(server: Server, *lines: str) -> str:
    return "\r\n".join(
        [
            "POST /graphql HTTP/1.1",
            f"Host: {urlsplit(server.url).netloc}",
            f"Authorization: Bearer {server.tokens['admin']}",
            "Content-Type: application/json",
            *lines,
            "",
            "",
        ]
    )


def test_a_declared_body_over_the_limit_is_refused_unread(server: Server) -> None:
    status, body = raw_exchange(server, head(server, f"Content-Length: {100 * 2**20}"))
    assert status == 413
    assert body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert f"{SETTINGS.max_body_bytes:,}" in body["errors"][0]["message"]


def test_a_streamed_body_is_refused_once_past_the_limit(server: Server) -> None:
    mib = b"x" * 2**20
    chunks = [b"%x\r\n%s\r\n" % (len(mib), mib)] * (SETTINGS.max_body_bytes // len(mib))
    chunks.append(b"1\r\nx\r\n")  # one byte past the limit, and the body never ends
    status, body = raw_exchange(server, head(server, "Transfer-Encoding: chunked"), chunks)
    assert status == 413
    assert body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_hundred_thousand_records_are_refused_quickly_and_whole(server: Server) -> None:
    marker = uuid.uuid4().hex[:8]
    first = {"entityType": "vendor", "system": "ERP", "sourceId": f"{marker}-0"}
    records = [first, *[{}] * 99_999]
    with server.client("integrator") as client:
        response = client.post(
            "/graphql",
            json={"query": INGEST_BATCH, "variables": {"records": records}},
            timeout=10,  # liveness only: converting them all took tens of seconds
        )
    assert response.json()["data"]["ingestRecords"]["code"] == "BATCH_TOO_LARGE"
    crosswalk = server.query(
        'query($id: String!) { crosswalk(entityType: "vendor", system: "ERP", sourceId: $id) '
        "{ found } }",
        {"id": f"{marker}-0"},
    )
    assert crosswalk == {"data": {"crosswalk": None}}


@pytest.mark.parametrize(("width", "levels"), FAN_OUTS)
def test_fan_out_over_http_answers(server: Server, width: int, levels: int) -> None:
    with server.client() as client:  # a 30 s timeout: the 8x10 document used never to answer
        body = client.post("/graphql", json={"query": fan_out(width, levels)}).json()
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_several_operations_without_a_name_are_refused_by_post_and_get(server: Server) -> None:
    assert server.query(TWO_OPERATIONS)["errors"][0]["extensions"]["code"] == (
        "OPERATION_NAME_REQUIRED"
    )
    with server.client() as client:
        by_get = client.get("/graphql", params={"query": TWO_OPERATIONS}).json()
        named = client.get("/graphql", params={"query": TWO_OPERATIONS, "operationName": "B"})
    assert by_get["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    assert "sourceSystems" in named.json()["data"]


@pytest.mark.parametrize("first", [0, 501, 1_000_000_000])
def test_review_candidates_pages_like_every_other_list(server: Server, first: int) -> None:
    body = server.query(f"{{ reviewCandidates(first: {first}) {{ id }} }}", role="reader")
    assert body["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "first"}


CROSSWALK = """query($id: String!) {
  crosswalk(entityType: "vendor", system: "ERP", sourceId: $id) { goldenId } }"""
INGEST_ONE = """mutation($input: SourceRecordInput!) { ingestRecord(input: $input) {
  ... on IngestRecordSuccess { outcome { goldenId } } } }"""
# Seconds of matching and writing on either database (more on PostgreSQL).
HEAVY_BATCH = 300
BATCH = """mutation($records: [SourceRecordInput!]!) { ingestRecords(records: $records) {
  ... on IngestRecordsSuccess { accepted rejected } } }"""


def test_a_heavy_request_holds_up_neither_healthz_nor_a_crosswalk_look_up(
    server: Server,
) -> None:
    known = f"KNOWN-{uuid.uuid4().hex[:8]}"
    ingested = server.query(
        INGEST_ONE,
        {
            "input": {
                "entityType": "vendor",
                "system": "ERP",
                "sourceId": known,
                "attributes": {"name": f"Known {uuid.uuid4().hex}"},
            }
        },
    )
    golden_id = ingested["data"]["ingestRecord"]["outcome"]["goldenId"]
    records = [
        {
            "entityType": "vendor",
            "system": "ERP",
            "sourceId": f"HEAVY-{uuid.uuid4().hex}",
            "attributes": {"name": f"Vendor {uuid.uuid4().hex}"},
        }
        for _ in range(HEAVY_BATCH)
    ]
    heavy: dict[str, Any] = {}

    def send_batch() -> None:
        started = time.monotonic()
        with server.client("integrator") as client:
            response = client.post(
                "/graphql", json={"query": BATCH, "variables": {"records": records}}, timeout=300
            )
        heavy["seconds"] = time.monotonic() - started
        heavy["body"] = response.json()

    batch = threading.Thread(target=send_batch)
    latencies: list[float] = []
    with httpx.Client(base_url=server.url, timeout=60) as probe, server.client() as looker:
        looker.post("/graphql", json={"query": "{ __typename }"})  # connections made already
        probe.get("/healthz")
        batch.start()
        while batch.is_alive():
            started = time.monotonic()
            assert probe.get("/healthz").json() == {"status": "ok"}
            found = looker.post("/graphql", json={"query": CROSSWALK, "variables": {"id": known}})
            assert found.json() == {"data": {"crosswalk": {"goldenId": golden_id}}}
            latencies.append(time.monotonic() - started)
    batch.join()
    assert heavy["body"]["data"]["ingestRecords"] == {"accepted": HEAVY_BATCH, "rejected": 0}
    # Had the batch held the server, a probe would have waited for most of it.
    bound = min(1.0, heavy["seconds"] / 2)
    assert max(latencies) < bound, (latencies, heavy["seconds"])
    assert len(latencies) >= 5, heavy["seconds"]  # the batch ran long enough to tell
