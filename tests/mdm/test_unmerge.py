"""Unmerge on both databases: a record taken out of its golden record, the cannot-link that
keeps it out, the children queued, and the doubt their re-evaluation raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import strawberry
from sqlalchemy import func, select
from typer.testing import CliRunner

from mdm.api.context import Context
from mdm.api.matching import MatchMutation
from mdm.api.quality import QualityQuery
from mdm.auth import Principal, Role
from mdm.cli import app
from mdm.errors import MdmError
from mdm.golden import ChangeContext
from mdm.hub import Hub
from mdm.reevaluate import PARENT_UNMERGED, backlog
from mdm.store import (
    AuditLog,
    ChangeEvent,
    GoldenHistory,
    GoldenRecord,
    MatchCandidate,
    Reevaluation,
    SourceRecord,
)
from mdm.unmerge import UNMERGE, unmerge_record
from tests.mdm.test_context import (
    department,
    facility,
    golden_of,
    ingest,
    load_codes,
    two_hospitals,
)


def unmerge(
    hub: Hub,
    system: str,
    source_id: str,
    reason: str = "two campuses",
    expected_version: int | None = None,
) -> Any:
    with hub.database.session() as session:
        return unmerge_record(
            session, hub.specs, "location", system, source_id, actor="steward", reason=reason,
            expected_version=expected_version,
        )  # fmt: skip


def record_id(hub: Hub, system: str, source_id: str) -> int:
    with hub.database.read_session() as session:
        found = session.scalar(
            select(SourceRecord.id).where(
                SourceRecord.system == system, SourceRecord.source_id == source_id
            )
        )
    assert found is not None
    return int(found)


def counts(hub: Hub) -> tuple[int, ...]:
    with hub.database.read_session() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (GoldenRecord, GoldenHistory, ChangeEvent, MatchCandidate, AuditLog)
        )


def test_an_unmerged_parent_queues_its_children_and_their_doubt_goes_to_a_steward(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path)
    two_hospitals(hub)  # HHN and F1 share a GLN: one facility
    ingest(
        hub,
        department("ERP", "HHN001", "EMERGENCY DEPT", "HHN"),
        department("EHR", "D1", "ED", "F1"),  # one department only through its facility
    )
    facility_golden = golden_of(hub, "location", "ERP", "HHN")
    assert golden_of(hub, "location", "EHR", "F1") == facility_golden
    north_ed = golden_of(hub, "location", "ERP", "HHN001")
    assert golden_of(hub, "location", "EHR", "D1") == north_ed

    with hub.database.read_session() as session:
        seen = session.get(GoldenRecord, facility_golden)
        assert seen is not None
        seen_version = seen.version
    done = unmerge(
        hub, "EHR", "F1", reason="F1 is the new south campus, same GLN by mistake",
        expected_version=seen_version,
    )  # fmt: skip

    # F1 has a golden record of its own; HHN keeps the old one, recorded as unmerged.
    assert golden_of(hub, "location", "EHR", "F1") != facility_golden
    assert golden_of(hub, "location", "ERP", "HHN") == facility_golden
    with hub.database.read_session() as session:
        left = session.get(GoldenRecord, facility_golden)
        assert left is not None and left.public_id == done.left_golden_id
        assert left.version == done.left_version
        kinds = session.scalars(
            select(ChangeEvent.kind)
            .where(ChangeEvent.golden_public_id.in_([done.left_golden_id, done.golden_id]))
            .order_by(ChangeEvent.seq.desc())
            .limit(2)
        ).all()
        assert sorted(kinds) == ["created", "unmerged"]
        history = session.scalar(
            select(GoldenHistory.change_kind)
            .where(GoldenHistory.golden_id == facility_golden)
            .order_by(GoldenHistory.version.desc())
            .limit(1)
        )
        assert history == "unmerged"
        # The steward's decision: a cannot-link, and the audit row with the reason.
        link = session.scalars(
            select(MatchCandidate).where(
                MatchCandidate.source_record_id == record_id(hub, "EHR", "F1")
            )
        ).one()
        assert (link.golden_id, link.status, link.decided_by) == (
            facility_golden,
            "rejected",
            "steward",
        )
        audit = session.scalars(select(AuditLog).where(AuditLog.action == UNMERGE)).one()
        assert audit.details["reason"].startswith("F1 is the new south campus")
        # The children of both sides wait, visibly.
        waiting = session.scalars(select(Reevaluation)).all()
        assert {(w.source_record_id, w.reason) for w in waiting} == {
            (record_id(hub, "EHR", "D1"), PARENT_UNMERGED),
            (record_id(hub, "ERP", "HHN001"), PARENT_UNMERGED),
        }
        assert done.children_queued == 2 == backlog(session).pending

    with hub.database.session() as session:
        assert hub.ingestor.work_backlog(session, ChangeContext("test", None), limit=10) == 2
    # Nothing is split on its own: the department pair now has parents known to differ,
    # and a steward is asked, with the explanation.
    assert golden_of(hub, "location", "EHR", "D1") == north_ed
    with hub.database.read_session() as session:
        assert backlog(session).pending == 0
        doubts = session.scalars(
            select(MatchCandidate).where(
                MatchCandidate.status == "pending", MatchCandidate.golden_id == north_ed
            )
        ).all()
    assert {d.source_record_id for d in doubts} == {
        record_id(hub, "EHR", "D1"),
        record_id(hub, "ERP", "HHN001"),
    }
    for doubt in doubts:
        assert doubt.explanation["rule"] == "membership"
        assert doubt.score < 0.8
        assert "parent.different" in doubt.explanation["vetoed_by"]

    # Matching never puts F1 back, although its GLN still agrees with HHN's.
    ingest(hub, facility("EHR", "F1", "Harbor Health South Campus", NORTH_GLN_OF_TEST))
    assert golden_of(hub, "location", "EHR", "F1") not in (facility_golden, north_ed)


NORTH_GLN_OF_TEST = "0860004000242"  # the GLN two_hospitals gives HHN and F1


@pytest.mark.parametrize(
    ("system", "source_id", "reason", "code", "field"),
    [
        ("EHR", "NOPE", "why", "NOT_FOUND", "sourceId"),
        ("EHR", "D5", "why", "NOT_MERGED", "sourceId"),  # alone in its golden record
        ("EHR", "F1", "  ", "INVALID_INPUT", "reason"),
        ("EHR", "F1", "stale", "CONFLICT", "expectedVersion"),  # changed since it was seen
    ],
)
def test_an_unmerge_that_cannot_be_done_says_why_and_writes_nothing(
    hub: Hub, tmp_path: Path, system: str, source_id: str, reason: str, code: str, field: str
) -> None:
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    ingest(hub, department("EHR", "D5", "Gift Shop", "F2"))
    before = counts(hub)
    with pytest.raises(MdmError) as raised:
        # The steward saw version 1 (created); F1 joining made it 2.
        unmerge(
            hub, system, source_id, reason=reason, expected_version=1 if reason == "stale" else None
        )
    assert (raised.value.code, raised.value.field) == (code, field)
    assert counts(hub) == before


UNMERGE_MUTATION = """
mutation($system: String!, $sourceId: String!) {
  unmergeRecord(entityType: "location", system: $system, sourceId: $sourceId,
                reason: "wrong campus") {
    __typename
    ... on UnmergeRecordSuccess { leftGoldenId goldenId childrenQueued }
    ... on NotFoundError { code field }
  }
}
"""


def test_stewards_unmerge_through_graphql_and_readers_cannot(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    schema = strawberry.Schema(query=QualityQuery, mutation=MatchMutation)
    variables = {"system": "EHR", "sourceId": "F1"}
    reader = Context(hub=hub, principal=Principal("r", Role.READER), request_id="1")
    refused = schema.execute_sync(UNMERGE_MUTATION, variables, context_value=reader)
    assert refused.errors is not None
    assert golden_of(hub, "location", "EHR", "F1") == golden_of(hub, "location", "ERP", "HHN")

    steward = Context(hub=hub, principal=Principal("s", Role.STEWARD), request_id="2")
    done = schema.execute_sync(UNMERGE_MUTATION, variables, context_value=steward)
    assert done.errors is None and done.data is not None
    found = done.data["unmergeRecord"]
    assert found["__typename"] == "UnmergeRecordSuccess"
    assert found["leftGoldenId"] != found["goldenId"]
    assert golden_of(hub, "location", "EHR", "F1") != golden_of(hub, "location", "ERP", "HHN")

    missing = schema.execute_sync(
        UNMERGE_MUTATION, {"system": "EHR", "sourceId": "F9"}, context_value=steward
    )
    assert missing.data is not None
    assert missing.data["unmergeRecord"] == {
        "__typename": "NotFoundError",
        "code": "NOT_FOUND",
        "field": "sourceId",
    }


def test_cli_unmerge_and_its_error(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    runner = CliRunner()
    base = ["match", "unmerge", "-t", "location", "--database-url", hub.database.url]
    done = runner.invoke(
        app, [*base, "--system", "EHR", "--source-id", "F1", "--reason", "wrong campus"]
    )
    assert done.exit_code == 0, done.stderr
    assert "queued for re-evaluation" in done.stdout
    assert golden_of(hub, "location", "EHR", "F1") != golden_of(hub, "location", "ERP", "HHN")
    again = runner.invoke(
        app, [*base, "--system", "EHR", "--source-id", "F1", "--reason", "wrong campus"]
    )
    assert again.exit_code == 2
    assert "NOT_MERGED" in again.stderr
