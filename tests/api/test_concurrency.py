"""Two real server processes on one database ingest at once: no duplicate golden records."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import func, select

from mdm.hub import Hub
from mdm.settings import Settings
from mdm.store import GoldenRecord, SourceRecord
from tests.conftest import ROOT, Server, _free_port

INGEST = """mutation($input: SourceRecordInput!) { ingestRecord(input: $input) {
  ... on IngestRecordSuccess { outcome { goldenId } } ... on InvalidInputError { code } } }"""


def _start(database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mdm.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "MDM_DATABASE_URL": database_url},
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("second server did not start")


def test_concurrent_records_sharing_an_identifier_land_in_one_golden_record(
    server: Server, tmp_path: Path
) -> None:
    second, second_url = _start(server.database_url)
    gtin_body = f"{uuid.uuid4().int % 10**12:012d}"
    checksum = (
        10 - sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(gtin_body)))
    ) % 10
    gtin = gtin_body + str(checksum)
    prefix = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {server.tokens['integrator']}"}

    def send(n: int) -> str:
        url = server.url if n % 2 == 0 else second_url
        record = {
            "entityType": "item",
            "system": "ERP" if n % 3 else "PROCUREMENT",
            "sourceId": f"{prefix}-{n}",
            "attributes": {"description": f"GAUZE SPONGE 4X4 #{n}", "gtin": gtin},
        }
        body = httpx.post(
            f"{url}/graphql",
            json={"query": INGEST, "variables": {"input": record}},
            headers=headers,
            timeout=60,
        ).json()
        return str(body["data"]["ingestRecord"]["outcome"]["goldenId"])

    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            golden_ids = set(pool.map(send, range(24)))
    finally:
        second.terminate()
        second.wait(timeout=10)
    hub = Hub(Settings(database_url=server.database_url))
    try:
        with hub.database.read_session() as session:
            members = session.scalar(
                select(func.count())
                .select_from(SourceRecord)
                .where(SourceRecord.source_id.like(f"{prefix}-%"))
            )
            goldens = session.scalars(
                select(GoldenRecord.public_id)
                .join(SourceRecord, SourceRecord.golden_id == GoldenRecord.id)
                .where(SourceRecord.source_id.like(f"{prefix}-%"))
                .distinct()
            ).all()
    finally:
        hub.close()
    assert members == 24
    assert len(goldens) == 1
    assert golden_ids == set(goldens)
