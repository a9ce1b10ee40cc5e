"""Crosswalk data (source ids beside golden records) needs the integrator role on every path.

A reader may read golden records; it may not learn which golden record a source system's
id belongs to, neither through ``crosswalk``/``translate`` nor through a nested field, an
interface fragment, ``node`` or a reference.
"""

from __future__ import annotations

import json
import uuid

import pytest
from graphql import GraphQLNamedType, GraphQLObjectType, GraphQLSchema, get_named_type

from mdm.api.schema import build_schema
from mdm.auth import Role
from mdm.settings import Settings
from mdm.specs import DEFAULT_SPECS
from tests.conftest import Server

INGEST = """
mutation($input: SourceRecordInput!) {
  ingestRecord(input: $input) {
    ... on IngestRecordSuccess { outcome { goldenId } }
    ... on InvalidInputError { code message field }
  }
}"""

# Each path a golden record's source ids could leak through; $v is the vendor's golden id.
PATHS = {
    "vendor.sourceRecords": "query($v: ID!) { vendor(id: $v) { name sourceRecords { sourceId } } }",
    "node.interface": "query($v: ID!) { node(id: $v) { ... on GoldenRecord { sourceRecords "
    "{ system sourceId } } } }",
    "goldenRecord.lineage": "query($v: ID!) { goldenRecord(id: $v) { lineage { attribute "
    "sourceId } } }",
    "items.manufacturer": "query { items(first: 50) { nodes { manufacturer { sourceRecords "
    "{ sourceId } } } } }",
    "items.manufacturerRef": "query { items(first: 50) { nodes { manufacturerRef } } }",
    "items.attributes": "query { items(first: 50) { nodes { attributes } } }",
    "sourceRecord.golden": 'query($s: String!) { sourceRecord(entityType: "vendor", '
    'system: "ERP", sourceId: $s) { golden { ... on Vendor { sourceRecords '
    "{ system sourceId } } } } }",
}


def _ingest(server: Server, record: dict) -> str:
    body = server.query(INGEST, {"input": record}, role="integrator")
    assert "errors" not in body, body
    return str(body["data"]["ingestRecord"]["outcome"]["goldenId"])


@pytest.fixture(scope="module")
def linked(server: Server) -> dict[str, str]:
    """A vendor known to ERP and procurement, and an ERP item it makes."""
    tag = uuid.uuid4().hex[:8].upper()
    erp_id, proc_id, item_id = f"VX{tag}", f"SUPX{tag}", f"IX{tag}"
    tax_id = f"{uuid.uuid4().int % 10**7 + 52 * 10**7:09d}"
    golden = _ingest(
        server,
        {
            "entityType": "vendor",
            "system": "ERP",
            "sourceId": erp_id,
            "attributes": {"name": f"Visibility Medical {tag}", "tax_id": tax_id},
        },
    )
    again = _ingest(
        server,
        {
            "entityType": "vendor",
            "system": "PROCUREMENT",
            "sourceId": proc_id,
            "attributes": {"name": f"Visibility Medical {tag}", "tax_id": tax_id},
        },
    )
    assert again == golden
    _ingest(
        server,
        {
            "entityType": "item",
            "system": "ERP",
            "sourceId": item_id,
            "attributes": {"description": f"GAUZE {tag}", "manufacturer": erp_id},
        },
    )
    return {"golden": golden, "erp": erp_id, "proc": proc_id}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("role", ["reader", "integrator", "steward", "admin"])
def test_source_ids_need_the_integrator_role_on_every_path(
    server: Server, linked: dict[str, str], role: str, path: str
) -> None:
    body = server.query(PATHS[path], {"v": linked["golden"], "s": linked["erp"]}, role=role)
    text = json.dumps(body)
    if role == "reader":
        assert linked["erp"] not in text and linked["proc"] not in text, body
        if path != "items.attributes":  # attributes answers, without the references
            codes = {e["extensions"]["code"] for e in body.get("errors", [])}
            assert codes == {"FORBIDDEN"}, body
    else:
        assert "errors" not in body, body
        assert linked["erp"] in text, body


def test_a_reader_still_reads_the_golden_record(server: Server, linked: dict[str, str]) -> None:
    body = server.query(
        "query($v: ID!) { vendor(id: $v) { id name taxId lineage { attribute system rule } } }",
        {"v": linked["golden"]},
        role="reader",
    )
    assert "errors" not in body, body
    vendor = body["data"]["vendor"]
    assert vendor["id"] == linked["golden"] and vendor["name"].startswith("Visibility Medical")
    assert {e["system"] for e in vendor["lineage"]} <= {"ERP", "PROCUREMENT"}


# -- the rule, checked on the schema itself ----------------------------------------------

CROSSWALK_FIELDS = {"sourceId", "sourceIds", "sourceRecord", "sourceRecords", "raw"}


def _required_role(field: object) -> Role:
    definition = getattr(field, "extensions", {}).get("strawberry-definition")
    roles = [getattr(p, "role", Role.READER) for p in getattr(definition, "permission_classes", [])]
    return max(roles, default=Role.READER)


def _leaks(schema: GraphQLSchema) -> list[str]:
    """Crosswalk fields a reader reaches through reader-level fields, from any root."""
    leaks: list[str] = []
    seen: set[str] = set()
    query = schema.query_type
    assert query is not None
    stack: list[tuple[GraphQLNamedType, str]] = []
    for name, field in query.fields.items():
        if _required_role(field) <= Role.READER:
            stack.append((get_named_type(field.type), f"Query.{name}"))
    while stack:
        named, trail = stack.pop()
        kinds = schema.get_possible_types(named) if not isinstance(named, GraphQLObjectType) else []
        for possible in [named, *kinds]:
            if not isinstance(possible, GraphQLObjectType) or possible.name in seen:
                continue
            seen.add(possible.name)
            for name, field in possible.fields.items():
                if _required_role(field) >= Role.INTEGRATOR:
                    continue
                where = f"{trail}>{possible.name}.{name}"
                if name in CROSSWALK_FIELDS or name.endswith("Ref"):
                    leaks.append(where)
                stack.append((get_named_type(field.type), where))
    return leaks


def test_no_reader_path_reaches_a_crosswalk_field() -> None:
    schema = build_schema(DEFAULT_SPECS, Settings(database_url="sqlite://"))
    assert _leaks(schema._schema) == []


def test_the_walk_finds_an_unguarded_crosswalk_field() -> None:
    """The check can fail: a copy of the schema with one guard dropped is caught."""
    schema = build_schema(DEFAULT_SPECS, Settings(database_url="sqlite://"))
    vendor = schema._schema.type_map["Vendor"]
    assert isinstance(vendor, GraphQLObjectType)
    field = vendor.fields["sourceRecords"]
    original = field.extensions
    field.extensions = {}
    try:
        assert any(leak.endswith("Vendor.sourceRecords") for leak in _leaks(schema._schema))
    finally:
        field.extensions = original
