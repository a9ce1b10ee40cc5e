"""A steward's review decisions on both databases: merge, reject (a cannot-link that holds),
decided once, errors with code and field and nothing written, GraphQL roles."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from sqlalchemy import func, select

from mdm.api.context import Context
from mdm.api.matching import MatchMutation, MatchQuery
from mdm.auth import Principal, Role
from mdm.errors import MdmError
from mdm.hub import Hub
from mdm.match_models import steward_labels
from mdm.review import decide_candidate
from mdm.store import AuditLog, GoldenRecord, MatchCandidate, SourceRecord
from tests.mdm.test_match_labels import ingest, vendor


def placed(hub: Hub, system: str, source_id: str) -> tuple[int, int]:
    """(record id, golden id) of a vendor record."""
    with hub.database.read_session() as session:
        found = session.execute(
            select(SourceRecord.id, SourceRecord.golden_id).where(
                SourceRecord.system == system, SourceRecord.source_id == source_id
            )
        ).one()
    return int(found[0]), int(found[1])


def candidate(hub: Hub, record_id: int, golden_id: int) -> int:
    """A pending candidate, as the engine stores one in the review band."""
    with hub.database.session() as session:
        row = MatchCandidate(
            entity_type="vendor",
            source_record_id=record_id,
            golden_id=golden_id,
            score=0.9,
            explanation={"rule": "score", "match_weight": 3.2},
            status="pending",
        )
        session.add(row)
        session.flush()
        return int(row.id)


def decide(
    hub: Hub,
    candidate_id: int,
    decision: str,
    reason: str = "checked the W-9",
    expected_version: int | None = None,
) -> Any:
    with hub.database.session() as session:
        return decide_candidate(
            session, hub.specs, candidate_id, decision, actor="steward", reason=reason,
            expected_version=expected_version,
        )  # fmt: skip


def counts(hub: Hub) -> tuple[int, ...]:
    with hub.database.read_session() as session:
        statuses = tuple(
            session.scalars(select(MatchCandidate.status).order_by(MatchCandidate.id)).all()
        )
        goldens = session.scalars(select(GoldenRecord.status).order_by(GoldenRecord.id)).all()
        audits = int(session.scalar(select(func.count()).select_from(AuditLog)) or 0)
    return (*statuses, *goldens, audits)


@pytest.fixture
def two_vendors(hub: Hub) -> tuple[int, int, int, int]:
    ingest(
        hub,
        vendor("ERP", "V1", name="Northwind Surgical Supply", city="Omaha"),
        vendor("PROCUREMENT", "S9", name="NW Surgical", city="Omaha"),
    )
    a, golden_a = placed(hub, "ERP", "V1")
    b, golden_b = placed(hub, "PROCUREMENT", "S9")
    assert golden_a != golden_b
    return a, golden_a, b, golden_b


def test_a_merge_folds_the_records_golden_record_into_the_candidates(
    hub: Hub, two_vendors: tuple[int, int, int, int]
) -> None:
    a, golden_a, b, golden_b = two_vendors
    pending = candidate(hub, b, golden_a)
    done = decide(hub, pending, "merge")
    assert done.status == "merged"
    assert placed(hub, "PROCUREMENT", "S9")[1] == golden_a
    with hub.database.read_session() as session:
        merged = session.get(GoldenRecord, golden_b)
        assert merged is not None and (merged.status, merged.merged_into_id) == (
            "merged",
            golden_a,
        )
        survivor = session.get(GoldenRecord, golden_a)
        assert survivor is not None and done.golden_id == survivor.public_id
        row = session.get(MatchCandidate, pending)
        assert row is not None and (row.status, row.decided_by, row.reason) == (
            "merged",
            "steward",
            "checked the W-9",
        )
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "match.merge")).one()
        assert audit.target == str(pending)
        # The decision is a match label for estimation.
        labels = steward_labels(session, hub.specs.get_spec("vendor"))
    assert [label.is_match for label in labels] == [True]
    # Decided once.
    before = counts(hub)
    with pytest.raises(MdmError) as raised:
        decide(hub, pending, "reject")
    assert (raised.value.code, raised.value.field) == ("ALREADY_DECIDED", "id")
    assert counts(hub) == before


def test_a_rejection_is_a_cannot_link_that_holds(
    hub: Hub, two_vendors: tuple[int, int, int, int]
) -> None:
    a, golden_a, b, golden_b = two_vendors
    decide(hub, candidate(hub, b, golden_a), "reject")
    # The record now says what the other says, tax id included: still kept apart.
    ingest(
        hub,
        vendor("ERP", "V1", name="Northwind Surgical Supply", city="Omaha", tax_id="41-2847561"),
        vendor("PROCUREMENT", "S9", name="Northwind Surgical Supply", city="Omaha",
               tax_id="41-2847561"),
    )  # fmt: skip
    assert placed(hub, "PROCUREMENT", "S9")[1] == golden_b != placed(hub, "ERP", "V1")[1]
    # And a steward cannot merge them the other way round either.
    reverse = candidate(hub, a, golden_b)
    before = counts(hub)
    with pytest.raises(MdmError) as raised:
        decide(hub, reverse, "merge")
    assert (raised.value.code, raised.value.field) == ("CONFLICT", "id")
    assert counts(hub) == before


@pytest.mark.parametrize(
    ("which", "decision", "reason", "code", "field"),
    [
        ("missing", "merge", "why", "NOT_FOUND", "id"),
        ("pending", "approve", "why", "INVALID_INPUT", "decision"),
        ("pending", "merge", " ", "INVALID_INPUT", "reason"),
    ],
)
def test_a_decision_that_cannot_be_taken_says_why_and_writes_nothing(
    hub: Hub,
    two_vendors: tuple[int, int, int, int],
    which: str,
    decision: str,
    reason: str,
    code: str,
    field: str,
) -> None:
    a, golden_a, b, golden_b = two_vendors
    pending = candidate(hub, b, golden_a)
    before = counts(hub)
    with pytest.raises(MdmError) as raised:
        decide(hub, pending + 1000 if which == "missing" else pending, decision, reason)
    assert (raised.value.code, raised.value.field) == (code, field)
    assert counts(hub) == before


QUEUE = """{ reviewCandidates {
  id entityType system sourceId goldenVersion probability explanation
} }"""
DECIDE = """
mutation($id: ID!) {
  decideMatchCandidate(id: $id, decision: REJECT, reason: "different tax ids") {
    __typename
    ... on DecideMatchCandidateSuccess { status goldenId }
    ... on InvalidInputError { code field }
  }
}
"""


def test_stewards_decide_through_graphql_and_readers_only_read(
    hub: Hub, two_vendors: tuple[int, int, int, int]
) -> None:
    a, golden_a, b, golden_b = two_vendors
    pending = candidate(hub, b, golden_a)
    schema = strawberry.Schema(query=MatchQuery, mutation=MatchMutation)
    reader = Context(hub=hub, principal=Principal("r", Role.READER), request_id="1")
    hidden = schema.execute_sync(QUEUE, context_value=reader)  # the source id is crosswalk data
    assert hidden.errors is not None and "integrator" in hidden.errors[0].message
    integrator = Context(hub=hub, principal=Principal("i", Role.INTEGRATOR), request_id="3")
    queue = schema.execute_sync(QUEUE, context_value=integrator)
    assert queue.errors is None and queue.data is not None
    assert queue.data["reviewCandidates"] == [
        {
            "id": str(pending),
            "entityType": "vendor",
            "system": "PROCUREMENT",
            "sourceId": "S9",
            "goldenVersion": 1,
            "probability": 0.9,
            "explanation": {"rule": "score", "match_weight": 3.2},
        }
    ]
    refused = schema.execute_sync(DECIDE, {"id": str(pending)}, context_value=integrator)
    assert refused.errors is not None
    steward = Context(hub=hub, principal=Principal("s", Role.STEWARD), request_id="2")
    done = schema.execute_sync(DECIDE, {"id": str(pending)}, context_value=steward)
    assert done.errors is None and done.data is not None
    assert done.data["decideMatchCandidate"]["status"] == "rejected"
    again = schema.execute_sync(DECIDE, {"id": str(pending)}, context_value=steward)
    assert again.data is not None
    assert again.data["decideMatchCandidate"] == {
        "__typename": "InvalidInputError",
        "code": "ALREADY_DECIDED",
        "field": "id",
    }
    empty = schema.execute_sync(QUEUE, context_value=integrator)
    assert empty.data is not None and empty.data["reviewCandidates"] == []


def test_a_rejection_holds_whichever_record_changes_first(
    hub: Hub, two_vendors: tuple[int, int, int, int]
) -> None:
    """The rejected record (S9) waits in its own golden record; the other one (V1) becomes
    sure of S9's golden record: joining it would put the two together again."""
    a, golden_a, b, golden_b = two_vendors
    decide(hub, candidate(hub, b, golden_a), "reject")
    ingest(
        hub,
        vendor("PROCUREMENT", "S9", name="Northwind Surgical Supply", city="Omaha",
               tax_id="41-2847561"),
        vendor("ERP", "V1", name="Northwind Surgical Supply", city="Omaha", tax_id="41-2847561"),
    )  # fmt: skip
    assert placed(hub, "PROCUREMENT", "S9")[1] != placed(hub, "ERP", "V1")[1]


def test_a_decision_on_a_golden_record_that_changed_since_it_was_seen_is_a_conflict(
    hub: Hub, two_vendors: tuple[int, int, int, int]
) -> None:
    a, golden_a, b, golden_b = two_vendors
    pending = candidate(hub, b, golden_a)
    # The steward saw golden A at version 1; V1 changes before the decision lands.
    ingest(hub, vendor("ERP", "V1", name="Northwind Surgical Supply Co", city="Omaha"))
    before = counts(hub)
    with pytest.raises(MdmError) as raised:
        decide(hub, pending, "merge", expected_version=1)
    assert (raised.value.code, raised.value.field) == ("CONFLICT", "expectedVersion")
    assert counts(hub) == before
    # Looked at again, at the version it is now: decided.
    assert decide(hub, pending, "merge", expected_version=2).status == "merged"
