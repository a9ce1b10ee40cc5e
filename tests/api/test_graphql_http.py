"""The GraphQL API over real HTTP against a real `mdm serve` process, on both databases."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.conftest import Server

INGEST = """
mutation($input: SourceRecordInput!) {
  ingestRecord(input: $input) {
    __typename
    ... on IngestRecordSuccess { outcome { status goldenId version findings { attribute code } } }
    ... on InvalidInputError { code message field }
  }
}"""

CROSSWALK = """
query($type: String!, $system: String!, $id: String!) {
  crosswalk(entityType: $type, system: $system, sourceId: $id) {
    goldenId found isDeleted
    golden { id ... on Vendor { name taxId } }
  }
}"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ingest(server: Server, role: str = "integrator", **record: object) -> dict:
    body = server.query(INGEST, {"input": record}, role=role)
    assert "errors" not in body, body
    return body["data"]["ingestRecord"]


def test_no_token_or_bad_token_is_401(server: Server) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = httpx.post(
            f"{server.url}/graphql", json={"query": "{ sourceSystems { code } }"}, headers=headers
        )
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_graphiql_page_is_served(server: Server) -> None:
    response = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_reader_cannot_ingest(server: Server) -> None:
    body = server.query(
        INGEST,
        {"input": {"entityType": "vendor", "system": "ERP", "sourceId": "x", "attributes": {}}},
        role="reader",
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_reader_cannot_use_crosswalk_but_integrator_can(server: Server) -> None:
    variables = {"type": "vendor", "system": "ERP", "id": "nothing"}
    denied = server.query(CROSSWALK, variables, role="reader")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    allowed = server.query(CROSSWALK, variables, role="integrator")
    assert allowed == {"data": {"crosswalk": None}}


def test_ingest_then_crosswalk_and_translate(server: Server) -> None:
    erp_id, proc_id = unique("V"), unique("SUP")
    tax_id = f"{uuid.uuid4().int % 10**7 + 41 * 10**7:09d}"
    first = ingest(
        server,
        entityType="vendor",
        system="ERP",
        sourceId=erp_id,
        attributes={"name": "Northwind Surgical Inc", "tax_id": tax_id},
    )
    second = ingest(
        server,
        entityType="vendor",
        system="PROCUREMENT",
        sourceId=proc_id,
        attributes={"name": "NORTHWIND SURGICAL", "tax_id": tax_id[:2] + "-" + tax_id[2:]},
    )
    golden_id = first["outcome"]["goldenId"]
    assert first["outcome"]["status"] == "CREATED"
    assert second["outcome"]["goldenId"] == golden_id

    found = server.query(CROSSWALK, {"type": "vendor", "system": "ERP", "id": erp_id})
    assert found["data"]["crosswalk"]["goldenId"] == golden_id
    assert found["data"]["crosswalk"]["golden"]["name"] == "Northwind Surgical Inc"

    translated = server.query(
        """query($id: String!) { translate(entityType: "vendor", system: "ERP", sourceId: $id,
             toSystem: "PROCUREMENT") { system sourceId goldenId } }""",
        {"id": erp_id},
    )
    assert translated["data"]["translate"] == [
        {"system": "PROCUREMENT", "sourceId": proc_id, "goldenId": golden_id}
    ]

    batch = server.query(
        """query($ids: [String!]!) { crosswalkBatch(entityType: "vendor", system: "ERP",
             sourceIds: $ids) { sourceId goldenId found } }""",
        {"ids": [erp_id, "missing-1"]},
    )
    assert batch["data"]["crosswalkBatch"] == [
        {"sourceId": erp_id, "goldenId": golden_id, "found": True},
        {"sourceId": "missing-1", "goldenId": None, "found": False},
    ]

    record = server.query(
        """query($id: ID!) { vendor(id: $id) { id name recordStatus version
             lineage { attribute rule system sourceId }
             sourceRecords { system sourceId } } }""",
        {"id": golden_id},
        role="integrator",  # source ids are crosswalk data (test_crosswalk_visibility.py)
    )["data"]["vendor"]
    assert record["name"] == "Northwind Surgical Inc"
    assert {
        "attribute": "name",
        "rule": "source_priority",
        "system": "ERP",
        "sourceId": erp_id,
    } in record["lineage"]
    assert sorted(s["system"] for s in record["sourceRecords"]) == ["ERP", "PROCUREMENT"]


def test_references_resolve_to_golden_records(server: Server) -> None:
    mfr, item = unique("V"), unique("I")
    ingest(
        server, entityType="vendor", system="ERP", sourceId=mfr, attributes={"name": "Acme Gloves"}
    )
    created = ingest(
        server,
        entityType="item",
        system="ERP",
        sourceId=item,
        attributes={
            "description": "GLOVE EXAM NITRILE LG 100/BX",
            "manufacturer": mfr,
            "pack_quantity": "100",
        },
    )
    body = server.query(
        """query($id: ID!) { item(id: $id) { description packQuantity
             manufacturer { name } manufacturerRef } }""",
        {"id": created["outcome"]["goldenId"]},
    )
    item_data = body["data"]["item"]
    assert item_data["manufacturer"] == {"name": "Acme Gloves"}
    assert item_data["packQuantity"] == 100
    assert item_data["manufacturerRef"] == {"system": "ERP", "source_id": mfr}


def test_bad_input_returns_typed_error_with_code_and_field(server: Server) -> None:
    unknown_system = ingest(
        server, entityType="vendor", system="SAP", sourceId="1", attributes={"name": "x"}
    )
    assert unknown_system == {
        "__typename": "InvalidInputError",
        "code": "UNKNOWN_SYSTEM",
        "message": unknown_system["message"],
        "field": "system",
    }
    assert "SAP" in unknown_system["message"]
    bad_type = ingest(
        server, entityType="item", system="ERP", sourceId=unique("I"), attributes={"colour": "blue"}
    )
    assert (bad_type["code"], bad_type["field"]) == ("INVALID_ATTRIBUTE", "attributes.colour")
    rejections = server.query("{ ingestRejections(first: 5) { nodes { code field system } } }")
    assert {
        "code": "INVALID_ATTRIBUTE",
        "field": "attributes.colour",
        "system": "ERP",
    } in rejections["data"]["ingestRejections"]["nodes"]


def test_invalid_identifier_is_flagged_in_the_outcome(server: Server) -> None:
    outcome = ingest(
        server,
        entityType="item",
        system="EHR",
        sourceId=unique("S"),
        attributes={"description": "SYRINGE 10ML", "gtin": "00036000291453"},
    )["outcome"]
    assert outcome["status"] == "CREATED"
    assert outcome["findings"] == [{"attribute": "gtin", "code": "BAD_CHECK_DIGIT"}]


def test_batch_ingest_reports_each_record(server: Server) -> None:
    ok_id = unique("V")
    body = server.query(
        """mutation($records: [SourceRecordInput!]!) { ingestRecords(records: $records) {
             ... on IngestRecordsSuccess { accepted rejected
                   outcomes { status sourceId error { code field } } }
             ... on InvalidInputError { code } } }""",
        {
            "records": [
                {
                    "entityType": "vendor",
                    "system": "ERP",
                    "sourceId": ok_id,
                    "attributes": {"name": "A"},
                },
                {
                    "entityType": "vendor",
                    "system": "ERP",
                    "sourceId": "",
                    "attributes": {"name": "B"},
                },
                {"entityType": "nope", "system": "ERP", "sourceId": "1", "attributes": {}},
            ]
        },
        role="integrator",
    )
    result = body["data"]["ingestRecords"]
    assert (result["accepted"], result["rejected"]) == (1, 2)
    assert [o["status"] for o in result["outcomes"]] == ["CREATED", "REJECTED", "REJECTED"]
    assert result["outcomes"][1]["error"] == {"code": "MISSING_SOURCE_ID", "field": "sourceId"}
    assert result["outcomes"][2]["error"] == {"code": "UNKNOWN_ENTITY_TYPE", "field": "entityType"}


def test_oversize_batch_is_refused_whole(server: Server) -> None:
    records = [
        {"entityType": "vendor", "system": "ERP", "sourceId": unique("V"), "attributes": {}}
        for _ in range(1001)
    ]
    body = server.query(
        """mutation($records: [SourceRecordInput!]!) { ingestRecords(records: $records) {
             ... on InvalidInputError { code field } } }""",
        {"records": records},
    )
    assert body["data"]["ingestRecords"] == {"code": "BATCH_TOO_LARGE", "field": "records"}
    probe = server.query(
        CROSSWALK, {"type": "vendor", "system": "ERP", "id": records[0]["sourceId"]}
    )
    assert probe["data"]["crosswalk"] is None


def test_list_pagination_with_keyset_cursors(server: Server) -> None:
    marker = unique("PAGE")
    for n in range(5):
        ingest(
            server,
            entityType="contract",
            system="ERP",
            sourceId=f"{marker}-{n}",
            attributes={"name": marker, "contract_number": f"{marker}{n}"},
        )
    seen: list[str] = []
    after = None
    while True:
        body = server.query(
            """query($after: String, $name: String!) { contracts(first: 2, after: $after,
                 filter: {attributes: [{name: "name", value: $name}]}) {
                 nodes { id name } pageInfo { hasNextPage endCursor } } }""",
            {"after": after, "name": marker},
            role="reader",
        )
        page = body["data"]["contracts"]
        seen += [n["id"] for n in page["nodes"]]
        assert all(n["name"] == marker for n in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 5


def test_merged_id_redirects_to_survivor(server: Server) -> None:
    erp, proc = unique("V"), unique("S")
    tax_id = f"{uuid.uuid4().int % 10**7 + 52 * 10**7:09d}"
    a = ingest(
        server,
        entityType="vendor",
        system="ERP",
        sourceId=erp,
        attributes={"name": "Acme", "tax_id": tax_id},
    )["outcome"]["goldenId"]
    b = ingest(
        server,
        entityType="vendor",
        system="PROCUREMENT",
        sourceId=proc,
        attributes={"name": "Acme"},
    )["outcome"]["goldenId"]
    assert a != b
    ingest(
        server,
        entityType="vendor",
        system="PROCUREMENT",
        sourceId=proc,
        attributes={"name": "Acme", "tax_id": tax_id},
    )
    body = server.query("query($id: ID!) { goldenRecord(id: $id) { id } }", {"id": b})
    assert body["data"]["goldenRecord"]["id"] == a
    proc_entry = server.query(CROSSWALK, {"type": "vendor", "system": "PROCUREMENT", "id": proc})
    assert proc_entry["data"]["crosswalk"]["goldenId"] == a


def test_a_record_with_nothing_comparable_is_its_own_golden_record_and_says_so(
    server: Server,
) -> None:
    outcome = ingest(
        server,
        entityType="vendor",
        system="ERP",
        sourceId=unique("V"),
        attributes={"tax_id": "N/A", "status": "A"},
    )["outcome"]
    assert outcome["status"] == "CREATED"
    assert outcome["goldenId"]
    codes = {(f["attribute"], f["code"]) for f in outcome["findings"]}
    assert codes == {("tax_id", "JUNK_VALUE"), (None, "NOTHING_COMPARABLE")}


BACKLOG = "{ reevaluationBacklog { pending } }"


def test_the_server_re_decides_children_of_a_late_parent_in_the_background(
    server: Server,
) -> None:
    ehr_facility, erp_facility = unique("F"), unique("HF")
    ehr_dept, erp_dept = unique("D"), unique("D")
    gln = "0860004000242"

    def location(system: str, source_id: str, **attributes: str) -> dict:
        return ingest(
            server,
            entityType="location",
            system=system,
            sourceId=source_id,
            attributes=attributes,
        )

    def golden(system: str, source_id: str) -> str:
        body = server.query(CROSSWALK, {"type": "location", "system": system, "id": source_id})
        return str(body["data"]["crosswalk"]["goldenId"])

    location(
        "ERP", erp_facility, name="HARBOR NORTH MEDICAL CTR", location_type="FACILITY", gln=gln
    )
    location("ERP", erp_dept, name="PHARMACY", location_type="DEPARTMENT", parent=erp_facility)
    # The EHR department arrives before its facility: nothing to compare its parent with.
    location("EHR", ehr_dept, name="Pharm", location_type="DEPARTMENT", parent=ehr_facility)
    assert golden("EHR", ehr_dept) != golden("ERP", erp_dept)
    location(
        "EHR", ehr_facility, name="Harbor North Medical Center", location_type="FACILITY", gln=gln
    )
    # The server's worker re-decides the waiting child off the request path.
    deadline = time.monotonic() + 20
    while server.query(BACKLOG, role="reader")["data"]["reevaluationBacklog"]["pending"]:
        assert time.monotonic() < deadline, "the backlog was not worked off"
        time.sleep(0.2)
    assert golden("EHR", ehr_dept) == golden("ERP", erp_dept)
