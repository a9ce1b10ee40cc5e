"""GraphQL for reference data: roles, results and error codes, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import strawberry
from sqlalchemy import select

from mdm.api.context import Context
from mdm.api.schema import build_schema
from mdm.auth import Principal, Role
from mdm.golden import ChangeContext, merge_golden
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.reference import load_reference_files
from mdm.store import AuditLog, GoldenRecord, SourceRecord

CODES = "code_set,code,display\ncompany,1000,Harbor Health Network\ncompany,2000,Bayview\n"

READ = """
query($status: CorrespondenceStatus) {
  codeSets(name: "company") {
    name codes { code display } transcodings { system sourceValue code origin }
  }
  unmappedValues(system: "PROCUREMENT") { entityType attribute system value count }
  codeCorrespondences(status: $status) {
    id systemA valueA systemB valueB support conflicts conflictShare isEvidence status reason
  }
}"""

SET = """
mutation($code: String!, $reason: String!) {
  setTranscoding(codeSet: "company", system: "PROCUREMENT", sourceValue: "hhn", code: $code,
                 reason: $reason) {
    __typename
    ... on SetTranscodingSuccess {
      transcoding { sourceValue code origin updatedBy } recordsUpdated version
    }
    ... on UserError { code message field }
  }
}"""

DELETE = """
mutation {
  deleteTranscoding(codeSet: "company", system: "PROCUREMENT", sourceValue: "HHN", reason: "typo") {
    __typename
    ... on DeleteTranscodingSuccess { transcoding { code } version }
    ... on UserError { code field }
  }
}"""

LEARN = """
mutation { learnCorrespondences { __typename ... on LearnCorrespondencesSuccess {
  entityTypes goldenRecords proposed updated decided version } } }"""

DECIDE = """
mutation($id: ID!, $reason: String!) {
  accept: acceptCorrespondence(id: $id, reason: $reason) {
    __typename
    ... on AcceptCorrespondenceSuccess {
      correspondence { status reason } transcoding { system sourceValue code origin } recordsUpdated
    }
    ... on UserError { code message field }
  }
}"""

REJECT = """
mutation($id: ID!, $reason: String!) {
  rejectCorrespondence(id: $id, reason: $reason) {
    __typename
    ... on RejectCorrespondenceSuccess { correspondence { status decidedBy } version }
    ... on UserError { code message field }
  }
}"""


@pytest.fixture
def schema(hub: Hub) -> strawberry.Schema:
    return build_schema(hub.specs, hub.settings)


@pytest.fixture
def loaded(hub: Hub, tmp_path: Path) -> Hub:
    """Company codes loaded; PROCUREMENT sends HHN on a cost center linked to ERP's 1000."""
    (tmp_path / "code_sets.csv").write_text(CODES, encoding="utf-8")
    with hub.database.session() as session:
        load_reference_files(session, [tmp_path], actor="test")
    records = [
        RecordInput("cost_center", system, f"{system}-4100", {"code": "4100", "company": company})
        for system, company in (("ERP", "1000"), ("PROCUREMENT", "HHN"))
    ]
    with hub.database.session() as session:
        hub.ingestor.ingest_many(session, records, actor="test")
    with hub.database.session() as session:
        rows = session.scalars(
            select(SourceRecord).where(SourceRecord.source_id.like("%-4100"))
        ).all()
        rows[1].findings = [
            {"attribute": "company", "code": "UNMAPPED_VALUE", "message": "m", "value": "HHN"}
        ]
        if rows[0].golden_id != rows[1].golden_id:
            target = session.get(GoldenRecord, rows[0].golden_id)
            other = session.get(GoldenRecord, rows[1].golden_id)
            assert target is not None and other is not None
            spec = hub.specs["cost_center"]
            merge_golden(session, spec, target, other, ChangeContext("steward", None))
    return hub


def run(
    schema: strawberry.Schema,
    hub: Hub,
    role: Role,
    document: str,
    variables: dict[str, Any] | None = None,
) -> Any:
    context = Context(hub=hub, principal=Principal(f"test {role.name}", role), request_id="t")
    return schema.execute_sync(document, variable_values=variables, context_value=context)


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        pytest.param(SET, {"code": "1000", "reason": "memo"}, id="setTranscoding"),
        pytest.param(DELETE, None, id="deleteTranscoding"),
        pytest.param(LEARN, None, id="learnCorrespondences"),
        pytest.param(DECIDE, {"id": "1", "reason": "r"}, id="acceptCorrespondence"),
        pytest.param(REJECT, {"id": "1", "reason": "r"}, id="rejectCorrespondence"),
    ],
)
def test_readers_and_integrators_cannot_change_reference_data(
    schema: strawberry.Schema, loaded: Hub, document: str, variables: dict[str, Any] | None
) -> None:
    for role in (Role.READER, Role.INTEGRATOR):
        result = run(schema, loaded, role, document, variables)
        assert result.data is None
        assert result.errors is not None
        assert "steward role" in result.errors[0].message
    with loaded.database.read_session() as session:
        actions = list(session.scalars(select(AuditLog.action)))
    assert actions == ["reference_data.load"]


def test_a_reader_reads_code_sets_unmapped_values_and_correspondences(
    schema: strawberry.Schema, loaded: Hub
) -> None:
    assert run(schema, loaded, Role.STEWARD, LEARN).data["learnCorrespondences"]["proposed"] == 1
    result = run(schema, loaded, Role.READER, READ, {"status": "PROPOSED"})
    assert result.errors is None, result.errors
    assert result.data["codeSets"] == [
        {
            "name": "company",
            "codes": [
                {"code": "1000", "display": "Harbor Health Network"},
                {"code": "2000", "display": "Bayview"},
            ],
            "transcodings": [],
        }
    ]
    assert result.data["unmappedValues"] == [
        {
            "entityType": "cost_center",
            "attribute": "company",
            "system": "PROCUREMENT",
            "value": "HHN",
            "count": 1,
        }
    ]
    (proposal,) = result.data["codeCorrespondences"]
    assert {k: v for k, v in proposal.items() if k != "id"} == {
        "systemA": "PROCUREMENT",
        "valueA": "HHN",
        "systemB": "ERP",
        "valueB": "1000",
        "support": 1,
        "conflicts": 0,
        "conflictShare": 0.0,
        "isEvidence": False,  # one golden record is not enough support
        "status": "PROPOSED",
        "reason": None,
    }
    rejected = run(schema, loaded, Role.READER, READ, {"status": "REJECTED"})
    assert rejected.data["codeCorrespondences"] == []


def test_a_steward_accepts_a_correspondence_once(schema: strawberry.Schema, loaded: Hub) -> None:
    run(schema, loaded, Role.STEWARD, LEARN)
    listed = run(schema, loaded, Role.READER, READ, {"status": "PROPOSED"})
    proposal_id = listed.data["codeCorrespondences"][0]["id"]

    blank = run(schema, loaded, Role.STEWARD, DECIDE, {"id": proposal_id, "reason": " "})
    assert blank.data["accept"]["field"] == "reason"
    missing = run(schema, loaded, Role.STEWARD, DECIDE, {"id": "999999", "reason": "r"})
    assert missing.data["accept"]["__typename"] == "NotFoundError"
    assert missing.data["accept"]["code"] == "NOT_FOUND"

    accepted = run(schema, loaded, Role.STEWARD, DECIDE, {"id": proposal_id, "reason": "memo"})
    assert accepted.errors is None, accepted.errors
    assert accepted.data["accept"] == {
        "__typename": "AcceptCorrespondenceSuccess",
        "correspondence": {"status": "ACCEPTED", "reason": "memo"},
        "transcoding": {
            "system": "PROCUREMENT",
            "sourceValue": "HHN",
            "code": "1000",
            "origin": "learned",
        },
        "recordsUpdated": 1,
    }
    after = run(schema, loaded, Role.READER, READ)
    assert after.data["unmappedValues"] == []
    assert after.data["codeSets"][0]["transcodings"][0]["origin"] == "learned"

    again = run(schema, loaded, Role.ADMIN, REJECT, {"id": proposal_id, "reason": "no"})
    assert again.data["rejectCorrespondence"]["__typename"] == "InvalidInputError"
    assert again.data["rejectCorrespondence"]["code"] == "ALREADY_DECIDED"


def test_a_steward_rejects_a_correspondence(schema: strawberry.Schema, loaded: Hub) -> None:
    run(schema, loaded, Role.STEWARD, LEARN)
    listed = run(schema, loaded, Role.READER, READ)
    proposal_id = listed.data["codeCorrespondences"][0]["id"]
    rejected = run(schema, loaded, Role.STEWARD, REJECT, {"id": proposal_id, "reason": "no"})
    body = rejected.data["rejectCorrespondence"]
    assert body["correspondence"] == {"status": "REJECTED", "decidedBy": "test STEWARD"}
    relearned = run(schema, loaded, Role.STEWARD, LEARN).data["learnCorrespondences"]
    assert (relearned["proposed"], relearned["decided"]) == (0, 1)
    assert relearned["version"] > body["version"]


def test_a_steward_sets_and_deletes_a_transcoding(schema: strawberry.Schema, loaded: Hub) -> None:
    refused = run(schema, loaded, Role.STEWARD, SET, {"code": "3000", "reason": "memo"})
    assert refused.data["setTranscoding"]["code"] == "INVALID_REFERENCE_DATA"
    assert refused.data["setTranscoding"]["field"] == "code"
    blank = run(schema, loaded, Role.STEWARD, SET, {"code": "1000", "reason": ""})
    assert blank.data["setTranscoding"] == {
        "__typename": "InvalidInputError",
        "code": "INVALID_INPUT",
        "message": "a reason is required and must not be blank",
        "field": "reason",
    }

    done = run(schema, loaded, Role.STEWARD, SET, {"code": "1000", "reason": "memo"})
    assert done.errors is None, done.errors
    success = done.data["setTranscoding"]
    assert success["transcoding"] == {
        "sourceValue": "HHN",
        "code": "1000",
        "origin": "api",
        "updatedBy": "test STEWARD",
    }
    assert success["recordsUpdated"] == 1 and success["version"] > 0

    deleted = run(schema, loaded, Role.STEWARD, DELETE)
    assert deleted.data["deleteTranscoding"]["transcoding"] == {"code": "1000"}
    gone = run(schema, loaded, Role.STEWARD, DELETE)
    assert gone.data["deleteTranscoding"] == {
        "__typename": "NotFoundError",
        "code": "NOT_FOUND",
        "field": "sourceValue",
    }
