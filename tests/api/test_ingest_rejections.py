"""`ingestRejections` pages through every open rejection, newest first, and counts them."""

from __future__ import annotations

import uuid

from tests.conftest import Server

REGISTER = """
mutation($code: String!) { registerSourceSystem(code: $code, name: "Rejections test") {
  __typename } }"""

INGEST_BATCH = """
mutation($records: [SourceRecordInput!]!) { ingestRecords(records: $records) {
  ... on IngestRecordsSuccess { accepted rejected } } }"""

PAGE = """
query($first: Int!, $after: String, $system: String) {
  ingestRejections(first: $first, after: $after, system: $system) {
    totalCount
    edges { cursor node { id sourceId code } }
    nodes { id }
    pageInfo { hasNextPage endCursor }
  }
}"""


def test_rejections_page_with_cursors_and_a_total(server: Server) -> None:
    system = f"REJ{uuid.uuid4().hex[:8].upper()}"
    registered = server.query(REGISTER, {"code": system})
    assert registered["data"]["registerSourceSystem"]["__typename"].endswith("Success")
    refused = [  # an attribute items do not have: each record is kept as a rejection
        {
            "entityType": "item",
            "system": system,
            "sourceId": f"I{n}",
            "attributes": {"description": "GAUZE", "colour": "blue"},
        }
        for n in range(7)
    ]
    batch = server.query(INGEST_BATCH, {"records": refused}, role="integrator")
    assert batch["data"]["ingestRecords"] == {"accepted": 0, "rejected": 7}

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = server.query(PAGE, {"first": 3, "after": after, "system": system}, role="integrator")
        assert "errors" not in body, body
        page = body["data"]["ingestRejections"]
        assert page["totalCount"] == 7
        assert [e["node"]["id"] for e in page["edges"]] == [n["id"] for n in page["nodes"]]
        assert all(e["node"]["code"] == "INVALID_ATTRIBUTE" for e in page["edges"])
        seen += [e["node"]["sourceId"] for e in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == [f"I{n}" for n in reversed(range(7))]  # newest first, each once

    malformed = server.query(PAGE, {"first": 3, "after": "nope", "system": system}, "integrator")
    assert malformed["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    everyone = server.query(PAGE, {"first": 1, "after": None, "system": None}, "integrator")
    assert everyone["data"]["ingestRejections"]["totalCount"] >= 7
