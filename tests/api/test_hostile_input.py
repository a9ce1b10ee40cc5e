"""Hostile arguments never become internal errors, on either database.

NUL bytes, lone surrogates, over-long text, numbers past any column and deep nesting are
thrown at every argument of every root query and mutation field, enumerated from the schema
itself: each answer is an expected error with a stable code (or data), never ``INTERNAL``
and never an HTTP 500. ``ingestRecord(s)`` screen record by record: the bad record is
rejected and kept, the rest of the batch lands. The app runs in this process (httpx's ASGI
transport), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
    get_named_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from mdm.api.schema import build_schema
from mdm.app import create_app
from mdm.auth import Role, create_token
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.settings import Settings
from mdm.specs import DEFAULT_SPECS
from mdm.systems import register_system

SCHEMA = build_schema(DEFAULT_SPECS, Settings())._schema
ROOT_FIELDS: list[tuple[str, str, GraphQLField]] = [
    (operation, name, field)
    for operation, root in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type))
    if root is not None
    for name, field in root.fields.items()
]
PER_RECORD = {"ingestRecord", "ingestRecords"}
EXAMPLES_PER_DATABASE = 1000  # about 20 s a database


class InProcessApi:
    """The app behind httpx's ASGI transport, its lifespan entered, with an admin token."""

    def __init__(self, app: Starlette, token: str) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.lifespan = app.router.lifespan_context(app)
        self.loop.run_until_complete(self.lifespan.__aenter__())
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub", timeout=120
        )
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.requests = 0

    def post(self, document: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        # Python's encoder writes lone surrogates as \ud800 escapes and NaN/Infinity as
        # those tokens, as a hostile client may.
        body = json.dumps({"query": document, "variables": variables}, allow_nan=True)
        self.requests += 1
        return self.loop.run_until_complete(
            self.client.post("/graphql", content=body, headers=self.headers)
        )

    def data(self, document: str, variables: dict[str, Any] | None = None) -> Any:
        body = assert_no_internal_error(self.post(document, variables))
        assert "errors" not in body, body
        return body["data"]

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self.lifespan.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture
def api(database_url: str) -> Iterator[InProcessApi]:
    app = create_app(Settings(database_url=database_url, background_reevaluation=False))
    hub = app.state.hub
    with hub.database.session() as session:
        for code in ("ERP", "EHR"):
            register_system(session, code, code.title())
        token = create_token(session, "hostile", Role.ADMIN)
    with hub.database.session() as session:
        hub.ingestor.ingest_many(
            session,
            [
                RecordInput(
                    "vendor", "ERP", "V1", {"name": "Acme Medical", "tax_id": "12-3456789"}
                ),
                RecordInput(
                    "vendor", "EHR", "V9", {"name": "Acme Medical", "tax_id": "12-3456789"}
                ),
                RecordInput("item", "ERP", "I1", {"description": "EXAM GLOVE", "vendor": "V1"}),
                RecordInput("vendor", "NOPE", "V2", {"name": "Refused"}),  # a rejection
            ],
        )
    client = InProcessApi(app, token)
    try:
        yield client
    finally:
        client.close()


def assert_no_internal_error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 500, response.text[:2000]
    body: dict[str, Any] = response.json()
    internal = [
        e for e in body.get("errors") or () if (e.get("extensions") or {}).get("code") == "INTERNAL"
    ]
    assert not internal, body
    uncoded = [e for e in body.get("errors") or () if not (e.get("extensions") or {}).get("code")]
    assert not uncoded, body  # every error carries a stable code
    return body


def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


# -- documents built from the schema -------------------------------------------------------


def selection(type_: GraphQLOutputType, depth: int = 2) -> str:
    """Every leaf field of a result (and of its members, ``depth`` levels down)."""
    named = get_named_type(type_)
    if isinstance(named, GraphQLScalarType | GraphQLEnumType):
        return ""
    if isinstance(named, GraphQLUnionType):
        members = " ".join(f"... on {m.name} {selection(m, depth)}" for m in named.types)
        return f"{{ __typename {members} }}"
    picked = []
    for name, field in named.fields.items():  # type: ignore[union-attr]
        if any(
            isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined
            for a in field.args.values()
        ):
            continue
        if isinstance(get_named_type(field.type), GraphQLScalarType | GraphQLEnumType):
            picked.append(name)
        elif depth > 0:
            picked.append(f"{name} {selection(field.type, depth - 1)}")
    return "{ " + " ".join(picked or ["__typename"]) + " }"


def document(operation: str, name: str, field: GraphQLField) -> str:
    definitions = ", ".join(f"${a}: {argument.type}" for a, argument in field.args.items())
    arguments = ", ".join(f"{a}: ${a}" for a in field.args)
    return (
        f"{operation}{f'({definitions})' if definitions else ''} "
        f"{{ {name}{f'({arguments})' if arguments else ''} {selection(field.type)} }}"
    )


# -- hostile values, by GraphQL type --------------------------------------------------------

REALISTIC = st.sampled_from(
    ["vendor", "item", "cost_center", "Vendor", "ITEM", "ERP", "EHR", "V1", "V9", "I1", "UOM",
     "EA", "name", "taxId", "12-3456789", "ACTIVE", "PROCUREMENT", "1", ""]
)  # fmt: skip
HOSTILE_TEXT = ["\x00", "a\x00b", "\ud800", "x\udfff", "\x01", "\x7f", "\u202e", "😀", "é"]
TEXT = st.one_of(
    REALISTIC,
    st.sampled_from(HOSTILE_TEXT),
    st.sampled_from([201, 301, 10_001, 100_000]).map(lambda n: "x" * n),
    st.text(max_size=20),
    st.text(st.characters(categories=("Cc", "Cs", "Lo", "So", "Zs", "Nd")), max_size=8),
    st.tuples(REALISTIC, st.sampled_from(HOSTILE_TEXT)).map("".join),
)
IDS = st.one_of(
    TEXT,
    st.integers(-(2**80), 2**80).map(str),
    st.sampled_from(["9223372036854775807", "9223372036854775808", "-1", " 7 ", "1_0"]),
)
INTS = st.one_of(
    st.integers(-(2**31), 2**31 - 1),
    st.sampled_from([0, 1, -1, 2**31 - 1, -(2**31)]),
    st.integers(2**31, 2**80),
)
NUMBERS = st.one_of(
    st.integers(-(2**80), 2**80),
    st.sampled_from([2**63, -(2**63) - 1, 10**400, 1e308, -1e308, math.nan, math.inf, -math.inf]),
    st.floats(allow_nan=True, allow_infinity=True),
)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), TEXT, NUMBERS)
JSON_TREES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)
DEEP = st.integers(20, 600).map(_nested)
ATTRIBUTE_NAMES = st.sampled_from(
    sorted({a.name for spec in DEFAULT_SPECS.values() for a in spec.attributes})
)
ATTRIBUTES = st.dictionaries(
    ATTRIBUTE_NAMES | TEXT, st.one_of(JSON_SCALARS, JSON_TREES, DEEP), max_size=4
)
JSON_VALUES = st.one_of(ATTRIBUTES, JSON_TREES, DEEP)
SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "String": TEXT,
    "ID": IDS,
    "Int": INTS,
    "ChangePosition": INTS,
    "Float": NUMBERS,
    "Boolean": st.booleans(),
    "JSON": JSON_VALUES,
    "DateTime": st.one_of(st.datetimes().map(lambda d: d.isoformat()), TEXT),
}


# Half the time an argument gets a value its resolver accepts, so that the hostile values
# of the other arguments reach past the first check, into the pipeline and the database.
PLAUSIBLE = {
    "entityType": ["vendor", "item", "cost_center", "Vendor", "ITEM"],
    "system": ["ERP", "EHR"],
    "toSystem": ["ERP", "EHR"],
    "sourceId": ["V1", "V9", "I1"],
    "sourceIds": ["V1", "V9", "I1"],
    "codeSet": ["UOM", "COMPANY"],
    "code": ["EA", "BX", "NEW_SYSTEM"],
    "sourceValue": ["each", "box"],
    "id": ["1", "2"],
    "ids": ["1", "2"],
}


def values(type_: GraphQLInputType, name: str = "") -> st.SearchStrategy[Any]:
    if isinstance(type_, GraphQLNonNull):
        return _present(type_.of_type, name)
    return st.one_of(st.none(), _present(type_, name))


def _present(type_: GraphQLInputType, name: str) -> st.SearchStrategy[Any]:
    if isinstance(type_, GraphQLList):
        return st.lists(values(type_.of_type, name), max_size=4)
    if isinstance(type_, GraphQLInputObjectType):
        fields = type_.fields.items()
        return st.fixed_dictionaries(
            {n: values(f.type, n) for n, f in fields if _is_required(f.type, f.default_value)},
            optional={
                n: values(f.type, n) for n, f in fields if not _is_required(f.type, f.default_value)
            },
        )
    if isinstance(type_, GraphQLEnumType):
        return st.one_of(st.sampled_from(sorted(type_.values)), TEXT)
    assert isinstance(type_, GraphQLScalarType)
    hostile = SCALARS.get(type_.name, TEXT)
    if name in PLAUSIBLE:
        return st.one_of(st.sampled_from(PLAUSIBLE[name]), hostile)
    return hostile


def _is_required(type_: GraphQLInputType, default: Any) -> bool:
    return isinstance(type_, GraphQLNonNull) and default is Undefined


def arguments(field: GraphQLField) -> st.SearchStrategy[dict[str, Any]]:
    args = field.args.items()
    return st.fixed_dictionaries(
        {n: values(a.type, n) for n, a in args if _is_required(a.type, a.default_value)},
        optional={
            n: values(a.type, n) for n, a in args if not _is_required(a.type, a.default_value)
        },
    )


CASES = st.sampled_from(ROOT_FIELDS).flatmap(
    lambda case: st.tuples(st.just(case), arguments(case[2]))
)


@settings(
    max_examples=EXAMPLES_PER_DATABASE,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(case=CASES)
def test_no_argument_of_any_root_field_gives_an_internal_error(
    api: InProcessApi, case: tuple[tuple[str, str, GraphQLField], dict[str, Any]]
) -> None:
    (operation, name, field), variables = case
    assert_no_internal_error(api.post(document(operation, name, field), variables))


# -- every text argument, each hostile value: a stable code naming the argument -------------

DEFAULTS = {
    "entityType": "vendor",
    "system": "ERP",
    "toSystem": "EHR",
    "sourceId": "V1",
    "sourceIds": "V1",
    "codeSet": "UOM",
    "code": "EA",
    "sourceValue": "each",
    "reason": "a reason",
    "name": "name",
    "value": "Acme Medical",
}


def default(type_: GraphQLInputType, name: str) -> Any:
    """A plausible value of an argument, to hold the others still while one is hostile."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        return [default(type_.of_type, name)]
    if isinstance(type_, GraphQLInputObjectType):
        return {
            n: default(f.type, n)
            for n, f in type_.fields.items()
            if _is_required(f.type, f.default_value)
            or isinstance(get_named_type(f.type), GraphQLInputObjectType)
            or (n == "attributes" and get_named_type(f.type).name == "JSON")
        }
    if isinstance(type_, GraphQLEnumType):
        return sorted(type_.values)[0]
    assert isinstance(type_, GraphQLScalarType)
    return {
        "Int": 1,
        "ChangePosition": 1,
        "Float": 1.0,
        "Boolean": False,
        "JSON": {"name": "Acme"},
    }.get(type_.name, DEFAULTS.get(name, "1"))


def text_slots(
    type_: GraphQLInputType, path: str, name: str
) -> Iterator[tuple[str, list[str | int], str]]:
    """(field path, path into the variable, argument or input field name) of every String
    or ID inside an argument."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        for shown, steps, inner in text_slots(type_.of_type, f"{path}[0]", name):
            yield shown, [0, *steps], inner
    elif isinstance(type_, GraphQLInputObjectType):
        for n, f in type_.fields.items():
            for shown, steps, inner in text_slots(f.type, f"{path}.{n}", n):
                yield shown, [n, *steps], inner
    elif isinstance(type_, GraphQLScalarType) and type_.name in ("String", "ID"):
        yield path, [], name


def _set(container: Any, steps: list[str | int], value: Any) -> Any:
    if not steps:
        return value
    head, *rest = steps
    if isinstance(head, int):
        items = list(container or [None])
        items[head] = _set(items[head], rest, value)
        return items
    return {**(container or {}), head: _set((container or {}).get(head), rest, value)}


SLOTS = [
    (operation, name, field, argument, shown, steps)
    for operation, name, field in ROOT_FIELDS
    for argument, definition in field.args.items()
    for shown, steps, _ in text_slots(definition.type, argument, argument)
]
ALWAYS_REFUSED = {"nul": "A\x00B", "lone-surrogate": "A\ud800", "100k": "x" * 100_000}


def test_every_text_argument_refuses_what_no_database_takes_by_name(api: InProcessApi) -> None:
    """Each String or ID of every root field (inside inputs and lists too), in turn holding
    a NUL byte, a lone surrogate or 100,000 characters, the others plausible values."""
    missed = []
    for operation, name, field, argument, shown, steps in SLOTS:
        for label, hostile in ALWAYS_REFUSED.items():
            variables = {a: default(d.type, a) for a, d in field.args.items()}
            variables[argument] = _set(variables[argument], steps, hostile)
            body = assert_no_internal_error(api.post(document(operation, name, field), variables))
            if name in PER_RECORD:
                continue  # screened record by record: see the tables below
            codes = [
                (e["extensions"]["code"], e["extensions"].get("field"))
                for e in body.get("errors", [])
            ]
            if ("INVALID_INPUT", shown) not in codes:
                missed.append((f"{name}.{shown}", label, body))
    assert not missed, missed
    assert len(SLOTS) > 60  # every root field's text arguments were found


# -- the cases of the issue, one by one -----------------------------------------------------

INGEST_RECORDS = """mutation($records: [SourceRecordInput!]!) {
  ingestRecords(records: $records) {
    __typename
    ... on IngestRecordsSuccess {
      accepted rejected
      outcomes { status sourceId findings { attribute code } error { code field message } }
    }
    ... on InvalidInputError { code field message }
  }
}"""
REJECTIONS = "{ ingestRejections(first: 10) { nodes { sourceId code field payload } } }"


def _record(source_id: str, **attributes: Any) -> dict[str, Any]:
    return {
        "entityType": "item",
        "system": "ERP",
        "sourceId": source_id,
        "attributes": {"description": "EXAM GLOVE", **attributes},
    }


@pytest.mark.parametrize(
    ("source_id", "words"),
    [
        pytest.param("BAD\x00ID", "NUL byte", id="nul"),
        pytest.param("BAD\ud800", "lone surrogate", id="lone-surrogate"),
        pytest.param("B" * 300, "300 characters", id="300-characters"),
        pytest.param("B" * 100_000, "100,000 characters", id="100k"),
        pytest.param("BAD\x1bID", "control character", id="escape-character"),
    ],
)
def test_one_bad_source_id_is_rejected_and_the_batch_lands(
    api: InProcessApi, source_id: str, words: str
) -> None:
    records = [_record("OK-1"), _record(source_id), _record("OK-2")]
    result = api.data(INGEST_RECORDS, {"records": records})["ingestRecords"]
    assert (result["accepted"], result["rejected"]) == (2, 1), result
    first, bad, last = result["outcomes"]
    assert first["status"] == last["status"] == "CREATED"
    assert bad["status"] == "REJECTED"
    assert (bad["error"]["code"], bad["error"]["field"]) == ("INVALID_INPUT", "sourceId")
    assert words in bad["error"]["message"]
    [rejection] = [
        r
        for r in api.data(REJECTIONS)["ingestRejections"]["nodes"]
        if r["code"] != "UNKNOWN_SYSTEM"
    ]
    assert (rejection["code"], rejection["field"]) == ("INVALID_INPUT", "sourceId")
    crosswalk = api.data(
        'query($id: String!) { crosswalk(entityType: "item", system: "ERP", sourceId: $id) '
        "{ found } }",
        {"id": "OK-2"},
    )
    assert crosswalk["crosswalk"]["found"] is True


@pytest.mark.parametrize(
    ("value", "attribute", "code"),
    [
        pytest.param({"pack_quantity": 2**80}, "pack_quantity", "OUT_OF_RANGE", id="2**80"),
        pytest.param({"pack_quantity": 1e308}, "pack_quantity", "OUT_OF_RANGE", id="1e308"),
        pytest.param({"pack_quantity": math.nan}, "pack_quantity", "OUT_OF_RANGE", id="NaN"),
        pytest.param({"price": math.inf}, "price", "OUT_OF_RANGE", id="Infinity"),
        pytest.param({"brand": "ACME\x00"}, "brand", "BAD_CHARACTERS", id="nul-in-text"),
        pytest.param({"brand": "\ud800"}, "brand", "BAD_CHARACTERS", id="surrogate-in-text"),
    ],
)
def test_an_attribute_no_column_can_hold_is_flagged_and_lands(
    api: InProcessApi, value: dict[str, Any], attribute: str, code: str
) -> None:
    records = [_record("OK-1"), _record("FLAGGED", **value), _record("OK-2")]
    result = api.data(INGEST_RECORDS, {"records": records})["ingestRecords"]
    assert (result["accepted"], result["rejected"]) == (3, 0), result
    findings = result["outcomes"][1]["findings"]
    assert {"attribute": attribute, "code": code} in findings


@pytest.mark.parametrize("levels", [33, 500, 900])
def test_deep_nesting_is_an_invalid_attribute_by_name(api: InProcessApi, levels: int) -> None:
    records = [_record("OK-1"), _record("DEEP", description=_nested(levels)), _record("OK-2")]
    result = api.data(INGEST_RECORDS, {"records": records})["ingestRecords"]
    assert (result["accepted"], result["rejected"]) == (2, 1), result
    error = result["outcomes"][1]["error"]
    assert (error["code"], error["field"]) == ("INVALID_ATTRIBUTE", "attributes.description")


LOOKUPS = [
    pytest.param(
        'query($v: String!) { crosswalk(entityType: "vendor", system: "ERP", sourceId: $v) '
        "{ found } }",
        "sourceId",
        id="crosswalk",
    ),
    pytest.param(
        'query($v: String!) { crosswalkBatch(entityType: "vendor", system: "ERP", '
        'sourceIds: ["V1", $v]) { found } }',
        "sourceIds[1]",
        id="crosswalkBatch",
    ),
    pytest.param(
        'query($v: String!) { translate(entityType: "vendor", system: "ERP", sourceId: $v) '
        "{ found } }",
        "sourceId",
        id="translate",
    ),
    pytest.param(
        'query($v: String!) { sourceRecord(entityType: "vendor", system: $v, sourceId: "V1") '
        "{ sourceId } }",
        "system",
        id="sourceRecord",
    ),
    pytest.param("query($v: ID!) { node(id: $v) { id } }", "id", id="node"),
    pytest.param("query($v: ID!) { goldenRecord(id: $v) { id } }", "id", id="goldenRecord"),
    pytest.param("query($v: ID!) { vendor(id: $v) { id } }", "id", id="vendor"),
    pytest.param(
        'query($v: String!) { items(filter: {attributes: [{name: "description", value: $v}]}) '
        "{ nodes { id } } }",
        "filter.attributes[0].value",
        id="filter",
    ),
    pytest.param(
        'mutation($v: String!) { registerSourceSystem(code: "NEW", name: $v) { __typename } }',
        "name",
        id="registerSourceSystem",
    ),
    pytest.param(
        'mutation($v: String!) { setTranscoding(codeSet: "UOM", system: "ERP", sourceValue: $v, '
        'code: "EA", reason: "r") { __typename } }',
        "sourceValue",
        id="setTranscoding",
    ),
]


@pytest.mark.parametrize(("query", "field"), LOOKUPS)
def test_a_value_no_database_takes_is_invalid_input_naming_the_argument(
    api: InProcessApi, query: str, field: str
) -> None:
    for value in ("V\x00", "V\ud800", "V" * 100_000):
        body = assert_no_internal_error(api.post(query, {"v": value}))
        [error] = body["errors"]
        assert error["extensions"]["code"] == "INVALID_INPUT", (value[:10], error)
        assert error["extensions"]["field"] == field


def test_an_over_long_write_is_refused_at_its_column(api: InProcessApi) -> None:
    body = assert_no_internal_error(
        api.post(
            'mutation($v: String!) { registerSourceSystem(code: "NEW", name: $v) { __typename } }',
            {"v": "N" * 201},
        )
    )
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("INVALID_INPUT", "name")
    assert "at most 200" in error["message"]


def test_an_id_past_any_key_is_invalid_input(api: InProcessApi) -> None:
    body = assert_no_internal_error(
        api.post(
            'mutation($id: ID!) { decideMatchCandidate(id: $id, decision: MERGE, reason: "r") '
            "{ __typename } }",
            {"id": str(2**70)},
        )
    )
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("INVALID_INPUT", "id")


def test_plain_arguments_still_work(api: InProcessApi) -> None:
    found = api.data(
        'query($v: String!) { crosswalk(entityType: "vendor", system: "ERP", sourceId: $v) '
        "{ found } }",
        {"v": "V1"},
    )
    assert found["crosswalk"]["found"] is True


def test_a_batch_refused_for_its_length_leaves_the_other_fields_screened(
    api: InProcessApi,
) -> None:
    body = assert_no_internal_error(
        api.post(
            "query($ids: [String!]!, $v: String!) {"
            ' batch: crosswalkBatch(entityType: "vendor", system: "ERP", sourceIds: $ids)'
            " { found }"
            ' one: crosswalk(entityType: "vendor", system: "ERP", sourceId: $v) { found } }',
            {"ids": ["V1"] * 1001, "v": "V\x00"},
        )
    )
    assert {"code": "INVALID_INPUT", "field": "sourceId"} in [
        {k: e["extensions"].get(k) for k in ("code", "field")} for e in body["errors"]
    ], body


def test_a_negative_seed_is_invalid_input(api: InProcessApi) -> None:
    body = assert_no_internal_error(
        api.post('mutation { estimateMatchModel(entityType: "vendor", seed: -1) { __typename } }')
    )
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("INVALID_INPUT", "seed")


@pytest.mark.parametrize(
    ("document", "code"),
    [
        pytest.param("{ sourceSystems { code }", "GRAPHQL_PARSE_FAILED", id="unclosed"),
        pytest.param("{ a" + "{" * 3000, "GRAPHQL_PARSE_FAILED", id="deep-braces"),
        pytest.param(
            '{ crosswalk(entityType: "vendor", system: "ERP", sourceId: "\\ud800") { found } }',
            "GRAPHQL_PARSE_FAILED",
            id="surrogate-literal",
        ),
        pytest.param("{ nope }", "GRAPHQL_VALIDATION_FAILED", id="unknown-field"),
    ],
)
def test_a_document_that_does_not_parse_or_validate_has_a_code(
    api: InProcessApi, document: str, code: str
) -> None:
    body = assert_no_internal_error(api.post(document))
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("night\x00shift", id="nul"),
        pytest.param("night\ud800shift", id="lone-surrogate"),
        pytest.param("n" * 201, id="too-long"),
        pytest.param("   ", id="blank"),
    ],
)
def test_a_token_name_no_column_takes_is_refused_by_the_cli(hub: Hub, name: str) -> None:
    from sqlalchemy import func, select
    from typer.testing import CliRunner

    from mdm.cli import app
    from mdm.store import ApiToken

    url = ["--database-url", hub.settings.database_url]
    for command in (["create", "--role", "reader"], ["revoke"]):
        refused = CliRunner().invoke(app, ["token", *command, "--name", name, *url])
        assert refused.exit_code == 2, refused.output
        assert "INVALID_INPUT" in refused.output
    with hub.database.read_session() as session:
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 0
