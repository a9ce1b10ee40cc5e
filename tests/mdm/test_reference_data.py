"""Reference data: files, store, unmapped values, learned correspondences and their
stewardship — on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from mdm.codes import CodeBookCache, load_codebook, reference_data_version
from mdm.errors import AlreadyDecidedError, InvalidReferenceDataError, MdmError, NotFoundError
from mdm.golden import ChangeContext, merge_golden
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.loader import load
from mdm.reference import (
    MIN_SUPPORT,
    accept_correspondence,
    delete_transcoding,
    is_evidence,
    learn_correspondences,
    list_code_sets,
    list_correspondences,
    load_reference_files,
    reject_correspondence,
    set_transcoding,
    unmapped_values,
)
from mdm.specs import DEFAULT_SPECS
from mdm.store import (
    AuditLog,
    CodeCorrespondence,
    CodeSet,
    GoldenRecord,
    MatchCandidate,
    MatchKeyRow,
    SourceRecord,
    Transcoding,
)

CODES = "code_set,code,display\ncompany,1000,Harbor Health Network\ncompany,2000,Bayview\n"
MAPS = "code_set,system,source_value,code\ncompany,EHR,harbor  health,1000\n"
SPEC = DEFAULT_SPECS["cost_center"]


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_codes(hub: Hub, folder: Path, codes: str = CODES, maps: str | None = MAPS) -> None:
    write(folder, "code_sets.csv", codes)
    if maps is not None:
        write(folder, "transcodings.csv", maps)
    with hub.database.session() as session:
        load_reference_files(session, [folder], actor="test")


def cost_center(system: str, source_id: str, code: str, company: str) -> RecordInput:
    return RecordInput(
        "cost_center",
        system,
        source_id,
        {"code": code, "name": f"Department {code}", "company": company},
    )


def ingest(hub: Hub, *records: RecordInput) -> None:
    with hub.database.session() as session:
        outcomes = hub.ingestor.ingest_many(session, list(records), actor="test")
    assert all(o.error is None for o in outcomes), outcomes


def link(hub: Hub, *keys: tuple[str, str]) -> int:
    """Put these cost centers in one golden record, as a steward's merge would."""
    with hub.database.session() as session:
        rows = [
            session.scalars(
                select(SourceRecord).where(
                    SourceRecord.entity_type == "cost_center",
                    SourceRecord.system == system,
                    SourceRecord.source_id == source_id,
                )
            ).one()
            for system, source_id in keys
        ]
        target = session.get(GoldenRecord, rows[0].golden_id)
        assert target is not None
        for row in rows[1:]:
            session.refresh(row)
            if row.golden_id != target.id:
                other = session.get(GoldenRecord, row.golden_id)
                assert other is not None
                merge_golden(session, SPEC, target, other, ChangeContext("steward", None))
        return target.id


def record(hub: Hub, system: str, source_id: str) -> SourceRecord:
    with hub.database.read_session() as session:
        return session.scalars(
            select(SourceRecord).where(
                SourceRecord.system == system, SourceRecord.source_id == source_id
            )
        ).one()


def count(hub: Hub, model: type) -> int:
    with hub.database.read_session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def audit_actions(hub: Hub) -> list[str]:
    with hub.database.read_session() as session:
        return list(session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


# -- files ----------------------------------------------------------------------------------


def test_files_are_read_checked_and_applied_as_an_upsert(hub: Hub, tmp_path: Path) -> None:
    write(tmp_path, "code_sets.csv", CODES)
    write(tmp_path, "transcodings.csv", MAPS)
    with hub.database.session() as session:
        loaded = load_reference_files(session, [tmp_path], actor="loader")
    assert (loaded.codes_added, loaded.transcodings_added, loaded.unchanged) == (2, 1, 0)
    with hub.database.read_session() as session:
        assert reference_data_version(session) == loaded.version > 0
        (company,) = list_code_sets(session, "company")
        book = load_codebook(session)
        audit = session.scalars(select(AuditLog)).one()
    assert [(c.code, c.display) for c in company.codes] == [
        ("1000", "Harbor Health Network"),
        ("2000", "Bayview"),
    ]
    (mapped,) = company.transcodings
    assert (mapped.system, mapped.source_value, mapped.code, mapped.origin) == (
        "EHR",
        "HARBOR HEALTH",
        "1000",
        "file",
    )
    assert book.transcode("company", "EHR", " Harbor Health ") == ("1000", True)
    assert book.transcode("company", "ERP", "2000") == ("2000", True)
    assert book.transcode("company", "ERP", "HHN") == ("HHN", False)
    assert audit.action == "reference_data.load"
    assert audit.details["codes_added"] == 2 and audit.details["version"] == loaded.version
    assert audit.details["files"] == [
        str(tmp_path / "code_sets.csv"),
        str(tmp_path / "transcodings.csv"),
    ]

    # Again, with a changed display and a transcoding to another code: upserted, not doubled.
    write(tmp_path, "code_sets.csv", CODES.replace("Bayview", "Bayview Medical"))
    write(tmp_path, "transcodings.csv", MAPS.replace(",1000", ",2000"))
    with hub.database.session() as session:
        again = load_reference_files(session, [tmp_path], actor="loader")
    assert (again.codes_added, again.codes_updated, again.transcodings_replaced) == (0, 1, 1)
    assert again.version > loaded.version
    assert count(hub, CodeSet) == 2 and count(hub, Transcoding) == 1


def test_a_transcoding_file_may_name_a_code_set_already_in_the_store(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path / "first", maps=None)
    transcodings = write(
        tmp_path / "later", "transcodings.csv", "code_set,system,source_value,code\n"
        "company,PROCUREMENT,HHN,1000\n"
    )  # fmt: skip
    with hub.database.session() as session:
        loaded = load_reference_files(session, [transcodings], actor="t")
    assert loaded.transcodings_added == 1


HEADER = "code_set,system,source_value,code\n"
BAD_FILES = [
    pytest.param(
        CODES,
        HEADER + "facility,EHR,MAIN,1000\n",
        ["transcodings.csv:2", "unknown code set", "'facility'"],
        id="unknown-code-set",
    ),
    pytest.param(
        CODES,
        HEADER + "company,NOPE,HHN,1000\n",
        ["transcodings.csv:2", "unknown source system", "'NOPE'"],
        id="unknown-system",
    ),
    pytest.param(
        CODES,
        HEADER + "company,EHR,HHN,9999\n",
        ["transcodings.csv:2", "not a canonical code", "'9999'"],
        id="code-not-canonical",
    ),
    pytest.param(
        CODES,
        HEADER + "company,EHR,hhn,1000\ncompany,EHR, HHN ,2000\n",
        ["transcodings.csv:3", "duplicate mapping", "'HHN'", "transcodings.csv:2"],
        id="duplicate-mapping",
    ),
    pytest.param(
        CODES + "company,1000,Again\n",
        None,
        ["code_sets.csv:4", "already listed", "'1000'"],
        id="duplicate-code",
    ),
    pytest.param(
        CODES,
        HEADER + "company,EHR,2000,1000\n",
        ["transcodings.csv:2", "a cycle", "'2000'"],
        id="cycle",
    ),
    pytest.param(
        CODES,
        "code_set,source_value,code\ncompany,HHN,1000\n",
        ["transcodings.csv:1", "missing column", "'system'"],
        id="missing-column",
    ),
    pytest.param(
        "code_set,code,display,colour\ncompany,1000,x,red\n",
        None,
        ["code_sets.csv:1", "unknown column", "'colour'"],
        id="extra-column",
    ),
    pytest.param(
        CODES,
        HEADER + "company,EHR,,1000\n",
        ["transcodings.csv:2", "empty cell source_value", "'company,EHR,,1000'"],
        id="empty-cell",
    ),
    pytest.param(
        CODES + ",3000,\n",
        HEADER + "company,NOPE,HHN,1000\n",
        ["code_sets.csv:4", "empty cell code_set", "transcodings.csv:2", "'NOPE'"],
        id="every-problem-at-once",
    ),
]


@pytest.mark.parametrize(("codes", "maps", "expected"), BAD_FILES)
def test_a_bad_file_names_file_line_and_value_and_nothing_is_applied(
    hub: Hub, tmp_path: Path, codes: str, maps: str | None, expected: list[str]
) -> None:
    write(tmp_path, "code_sets.csv", codes)
    if maps is not None:
        write(tmp_path, "transcodings.csv", maps)
    with pytest.raises(InvalidReferenceDataError) as caught, hub.database.session() as session:
        load_reference_files(session, [tmp_path], actor="t")
    assert caught.value.code == "INVALID_REFERENCE_DATA"
    for text in expected:
        assert text in caught.value.message, caught.value.message
    assert all(str(tmp_path) in p for p in caught.value.problems)
    assert count(hub, CodeSet) == count(hub, Transcoding) == count(hub, AuditLog) == 0


def test_a_new_code_that_a_stored_transcoding_maps_away_is_a_chain(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path / "first")  # EHR "HARBOR HEALTH" -> 1000
    write(tmp_path / "second", "code_sets.csv", "code_set,code,display\ncompany,Harbor Health,\n")
    with pytest.raises(InvalidReferenceDataError) as caught, hub.database.session() as session:
        load_reference_files(session, [tmp_path / "second"], actor="t")
    assert "code_sets.csv:2" in caught.value.message and "'HARBOR HEALTH'" in caught.value.message
    assert count(hub, CodeSet) == 2


# -- mdm load ---------------------------------------------------------------------------


def _mapping(folder: Path) -> Path:
    write(
        folder,
        "cc.csv",
        "ID,CODE,NAME,CO\nP1,4100,Cardiology,HHN\nP2,4200,Radiology,Bayview\n",
    )
    return write(
        folder,
        "procurement.toml",
        '[system]\ncode = "PROCUREMENT"\nname = "Procurement"\n[[entity]]\n'
        'type = "cost_center"\nfile = "cc.csv"\nsource_id = "ID"\n[entity.attributes]\n'
        'code = "CODE"\nname = "NAME"\ncompany = "CO"\n',
    )


def test_load_applies_the_code_files_beside_the_mappings_before_the_records(
    hub: Hub, tmp_path: Path
) -> None:
    mapping = _mapping(tmp_path)
    write(tmp_path, "code_sets.csv", CODES)
    write(tmp_path, "transcodings.csv", HEADER + "company,PROCUREMENT,Bayview,2000\n")
    summary = load(hub.database, hub.ingestor, [mapping])
    assert summary.reference_data is not None and summary.reference_data.codes_added == 2
    # Depends on standardization transcoding coded values (mdm.standardize).
    assert record(hub, "PROCUREMENT", "P2").standardized["company"] == "2000"
    unmapped = record(hub, "PROCUREMENT", "P1")
    assert unmapped.standardized["company"] == "HHN"
    assert [f["code"] for f in unmapped.findings] == ["UNMAPPED_VALUE"]


def test_load_stops_before_any_record_on_a_bad_code_file(hub: Hub, tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    write(tmp_path, "code_sets.csv", CODES)
    write(tmp_path, "transcodings.csv", HEADER + "company,PROCUREMENT,Bayview,3000\n")
    with pytest.raises(InvalidReferenceDataError, match=r"transcodings.csv:2.*'3000'"):
        load(hub.database, hub.ingestor, [mapping])
    assert count(hub, SourceRecord) == count(hub, CodeSet) == 0


# -- unmapped values --------------------------------------------------------------------


def _finding(attribute: str, value: str) -> dict[str, str]:
    return {"attribute": attribute, "code": "UNMAPPED_VALUE", "message": "m", "value": value}


def test_unmapped_values_are_counted_from_live_records(hub: Hub) -> None:
    rows = [
        ("cost_center", "PROCUREMENT", "1", [_finding("company", "HHN")], False),
        ("cost_center", "PROCUREMENT", "2", [_finding("company", "hhn ")], False),
        ("cost_center", "PROCUREMENT", "3", [_finding("company", "HHN")], True),  # deleted
        ("cost_center", "EHR", "4", [_finding("company", "HARBOR")], False),
        (
            "location",
            "EHR",
            "5",
            [_finding("location_type", "WARD"), {"attribute": "gln", "code": "BAD_CHECK_DIGIT",
             "message": "m", "value": "1"}],
            False,
        ),
        ("location", "EHR", "6", [], False),
    ]  # fmt: skip
    with hub.database.session() as session:
        for entity_type, system, source_id, findings, deleted in rows:
            session.add(
                SourceRecord(
                    entity_type=entity_type,
                    system=system,
                    source_id=source_id,
                    raw={},
                    standardized={},
                    findings=findings,
                    content_hash=source_id,
                    is_deleted=deleted,
                )
            )
    with hub.database.read_session() as session:
        everything = unmapped_values(session)
        procurement = unmapped_values(session, system="PROCUREMENT")
        locations = unmapped_values(session, entity_type="location")
    assert [(v.entity_type, v.attribute, v.system, v.value, v.count) for v in everything] == [
        ("cost_center", "company", "PROCUREMENT", "HHN", 2),
        ("cost_center", "company", "EHR", "HARBOR", 1),
        ("location", "location_type", "EHR", "WARD", 1),
    ]
    assert [v.value for v in procurement] == ["HHN"]
    assert [v.value for v in locations] == ["WARD"]


def test_ingested_unmapped_values_are_reported(hub: Hub, tmp_path: Path) -> None:
    # Depends on standardization reporting UNMAPPED_VALUE (mdm.standardize).
    load_codes(hub, tmp_path)
    ingest(
        hub,
        cost_center("PROCUREMENT", "P1", "4100", "HHN"),
        cost_center("PROCUREMENT", "P2", "4200", "hhn"),
        cost_center("EHR", "E1", "4100", "Harbor Health"),  # transcoded
    )
    with hub.database.read_session() as session:
        values = unmapped_values(session)
    assert [(v.system, v.value, v.count) for v in values] == [("PROCUREMENT", "HHN", 2)]
    assert record(hub, "EHR", "E1").standardized["company"] == "1000"


# -- learning ---------------------------------------------------------------------------


def _linked_pairs(hub: Hub, pairs: list[tuple[str, str, str]]) -> None:
    """ERP and PROCUREMENT cost centers with the same code, in one golden record each."""
    for code, erp_company, procurement_company in pairs:
        ingest(
            hub,
            cost_center("ERP", f"E{code}", code, erp_company),
            cost_center("PROCUREMENT", f"P{code}", code, procurement_company),
        )
        link(hub, ("ERP", f"E{code}"), ("PROCUREMENT", f"P{code}"))


def _proposals(hub: Hub) -> list[tuple[str, str, str, str, int, int, str]]:
    with hub.database.read_session() as session:
        return [
            (r.system_a, r.value_a, r.system_b, r.value_b, r.support, r.conflicts, r.status)
            for r in list_correspondences(session)
        ]


def test_learning_proposes_from_strongly_linked_records(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    _linked_pairs(hub, [("4100", "1000", "HHN"), ("4200", "1000", "HHN"), ("4300", "1000", "HHN")])
    # Same golden record but different codes and no steward decision: not strongly linked.
    ingest(
        hub,
        cost_center("ERP", "E9", "4900", "2000"),
        cost_center("PROCUREMENT", "P8", "4800", "XYZ"),
    )
    link(hub, ("ERP", "E9"), ("PROCUREMENT", "P8"))

    with hub.database.session() as session:
        learned = learn_correspondences(session, DEFAULT_SPECS, "steward")
    assert learned.proposed == 1 and "cost_center" in learned.entity_types
    assert _proposals(hub) == [("PROCUREMENT", "HHN", "ERP", "1000", 3, 0, "proposed")]
    with hub.database.read_session() as session:
        row = session.scalars(select(CodeCorrespondence)).one()
        book = load_codebook(session)
        assert reference_data_version(session) == learned.version
    assert (row.entity_type, row.attribute, row.code_set) == ("cost_center", "company", "company")
    assert is_evidence(row.support, row.conflicts) and row.support == MIN_SUPPORT
    assert book.learned == {("company", "PROCUREMENT", "HHN"): "1000"}
    assert book.match_token("company", "PROCUREMENT", "HHN") == "~1000"
    assert "reference_data.learn" in audit_actions(hub)

    # A steward's merge is a strong link too.
    with hub.database.session() as session:
        p8 = session.scalars(select(SourceRecord).where(SourceRecord.source_id == "P8")).one()
        assert p8.golden_id is not None
        session.add(
            MatchCandidate(
                entity_type="cost_center",
                source_record_id=p8.id,
                golden_id=p8.golden_id,
                score=0.7,
                status="merged",
            )
        )
    with hub.database.session() as session:
        again = learn_correspondences(session, DEFAULT_SPECS, "steward")
    assert again.proposed == 1
    assert ("PROCUREMENT", "XYZ", "ERP", "2000", 1, 0, "proposed") in _proposals(hub)


def test_conflicts_lower_the_evidence_and_are_counted_per_golden_record(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path)
    pairs = [(str(4100 + i), "1000", "HHN") for i in range(3)] + [("4900", "2000", "HHN")]
    _linked_pairs(hub, pairs)
    with hub.database.session() as session:
        learn_correspondences(session, DEFAULT_SPECS, "steward")
    assert _proposals(hub) == [
        ("PROCUREMENT", "HHN", "ERP", "1000", 3, 1, "proposed"),
        ("PROCUREMENT", "HHN", "ERP", "2000", 1, 3, "proposed"),
    ]
    with hub.database.read_session() as session:
        assert load_codebook(session).learned == {}  # conflict share 0.25 > 0.2
        assert load_codebook(session, max_conflict_share=0.25).learned == {
            ("company", "PROCUREMENT", "HHN"): "1000"
        }


def test_a_rejected_correspondence_is_never_proposed_again(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    _linked_pairs(hub, [("4100", "1000", "HHN")])
    with hub.database.session() as session:
        learn_correspondences(session, DEFAULT_SPECS, "steward")
        proposal = session.scalars(select(CodeCorrespondence)).one()
    with hub.database.session() as session:
        rejected = reject_correspondence(session, proposal.id, "ann", "HHN is the holding")
    assert rejected.correspondence.status == "rejected"
    _linked_pairs(hub, [("4200", "1000", "HHN"), ("4300", "1000", "HHN")])
    with hub.database.session() as session:
        learned = learn_correspondences(session, DEFAULT_SPECS, "steward")
    assert (learned.proposed, learned.decided) == (0, 1)
    assert _proposals(hub) == [("PROCUREMENT", "HHN", "ERP", "1000", 1, 0, "rejected")]
    with hub.database.read_session() as session:
        row = session.get(CodeCorrespondence, proposal.id)
        assert row is not None and (row.decided_by, row.reason) == ("ann", "HHN is the holding")
        assert load_codebook(session).learned == {}
    assert "reference_data.reject_correspondence" in audit_actions(hub)


def test_accepting_creates_a_transcoding_and_restandardizes_the_records(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path)
    _linked_pairs(hub, [("4100", "1000", "HHN")])
    ingest(hub, cost_center("PROCUREMENT", "P7", "4700", "HHN"))  # alone in its golden record
    with hub.database.session() as session:
        for source_id in ("P4100", "P7"):  # what standardization reports for HHN
            row = session.scalars(
                select(SourceRecord).where(SourceRecord.source_id == source_id)
            ).one()
            row.findings = [_finding("company", "HHN")]
    with hub.database.session() as session:
        learn_correspondences(session, DEFAULT_SPECS, "steward")
        proposal = session.scalars(select(CodeCorrespondence)).one()
        version = reference_data_version(session)
    lonely = record(hub, "PROCUREMENT", "P7")
    with hub.database.read_session() as session:
        before = session.get(GoldenRecord, lonely.golden_id)
        assert before is not None and before.attributes["company"] == "HHN"

    with hub.database.session() as session:
        decision = accept_correspondence(session, proposal.id, "ann", "HHN is company 1000")
    assert decision.version > version and decision.records_updated == 2
    assert decision.transcoding is not None
    assert (decision.transcoding.code, decision.transcoding.origin) == ("1000", "learned")
    with hub.database.read_session() as session:
        book = load_codebook(session)
        golden = session.get(GoldenRecord, lonely.golden_id)
        keys = set(
            session.scalars(
                select(MatchKeyRow.key).where(MatchKeyRow.source_record_id == lonely.id)
            )
        )
        row = session.get(CodeCorrespondence, proposal.id)
    assert book.transcode("company", "PROCUREMENT", "hhn") == ("1000", True)
    assert row is not None and (row.status, row.decided_by) == ("accepted", "ann")
    for source_id in ("P4100", "P7"):
        updated = record(hub, "PROCUREMENT", source_id)
        assert updated.standardized["company"] == "1000"
        assert updated.findings == []
    assert golden is not None and golden.attributes["company"] == "1000"
    assert golden.version == before.version + 1
    assert "company_code:1000|4700" in keys
    assert audit_actions(hub)[-1] == "reference_data.accept_correspondence"
    with hub.database.read_session() as session:
        assert unmapped_values(session) == []

    with pytest.raises(AlreadyDecidedError) as decided, hub.database.session() as session:
        reject_correspondence(session, proposal.id, "bob", "changed my mind")
    assert decided.value.code == "ALREADY_DECIDED"


@pytest.mark.parametrize(
    ("call", "code", "field"),
    [
        pytest.param(
            lambda s: accept_correspondence(s, 999, "a", "why"), "NOT_FOUND", "id", id="unknown-id"
        ),
        pytest.param(
            lambda s: reject_correspondence(s, 999, "a", "  "),
            "INVALID_INPUT",
            "reason",
            id="blank-reason",
        ),
        pytest.param(
            lambda s: accept_correspondence(s, 1, "a", None),
            "INVALID_INPUT",
            "reason",
            id="no-reason",
        ),
    ],
)
def test_decisions_refuse_unknown_ids_and_blank_reasons(
    hub: Hub, call: object, code: str, field: str
) -> None:
    with pytest.raises(MdmError) as caught, hub.database.session() as session:
        call(session)  # type: ignore[operator]
    assert (caught.value.code, caught.value.field) == (code, field)


# -- steward edits and the cache ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field", "text"),
    [
        pytest.param(("gpo", "EHR", "X", "1000"), "codeSet", "unknown code set", id="unknown-set"),
        pytest.param(("company", "NOPE", "X", "1000"), "system", "'NOPE'", id="unknown-system"),
        pytest.param(("company", "EHR", "X", "3000"), "code", "'3000'", id="not-canonical"),
        pytest.param(("company", "EHR", "2000", "1000"), "sourceValue", "a cycle", id="cycle"),
    ],
)
def test_set_transcoding_is_checked_like_a_file(
    hub: Hub, tmp_path: Path, args: tuple[str, str, str, str], field: str, text: str
) -> None:
    load_codes(hub, tmp_path)
    with pytest.raises(InvalidReferenceDataError) as caught, hub.database.session() as session:
        set_transcoding(session, *args, "ann", "because")
    assert caught.value.field == field and text in caught.value.message
    assert count(hub, Transcoding) == 1


def test_set_and_delete_transcoding_are_audited_and_bump_the_version(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path)
    ingest(hub, cost_center("PROCUREMENT", "P1", "4100", "HHN"))
    cache = CodeBookCache()
    with hub.database.read_session() as session:
        first = cache.get(session)
        assert cache.get(session) is first
    with hub.database.session() as session:
        change = set_transcoding(session, "company", "PROCUREMENT", " hhn", "1000", "ann", "memo")
    assert change.records_updated == 1 and change.transcoding.origin == "api"
    assert record(hub, "PROCUREMENT", "P1").standardized["company"] == "1000"
    with hub.database.read_session() as session:
        second = cache.get(session)
    assert second is not first and second.version == change.version
    assert second.transcode("company", "PROCUREMENT", "HHN") == ("1000", True)

    with hub.database.session() as session:
        removed = delete_transcoding(session, "company", "PROCUREMENT", "HHN", "ann", "wrong")
    assert removed.version > change.version and removed.transcoding.code == "1000"
    with pytest.raises(NotFoundError), hub.database.session() as session:
        delete_transcoding(session, "company", "PROCUREMENT", "HHN", "ann", "again")
    assert audit_actions(hub)[-2:] == [
        "reference_data.set_transcoding",
        "reference_data.delete_transcoding",
    ]
