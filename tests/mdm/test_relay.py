"""The outbox relay against the real NATS JetStream server of this machine, both databases:
every event once, in order, also when the relay is killed mid-stream and restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from mdm.errors import InvalidInputError
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.relay import Relay, RelayConfig, stored_position
from mdm.store import ChangeEvent

NATS_URL = "nats://127.0.0.1:4222"
ROOT = Path(__file__).resolve().parents[2]


def _vendors(hub: Hub, count: int, start: int = 0) -> None:
    records = [
        RecordInput("vendor", "ERP", f"V{n}", {"name": f"Relay Vendor {n:05d} Supply"})
        for n in range(start, start + count)
    ]
    with hub.database.session() as session:
        hub.ingestor.ingest_many(session, records, enforce_batch_limit=False)


def _sequences(hub: Hub) -> list[int]:
    with hub.database.read_session() as session:
        return list(session.scalars(select(ChangeEvent.seq).order_by(ChangeEvent.seq)))


async def _stream_messages(stream: str) -> list[tuple[str, dict[str, Any], str]]:
    import nats

    client = await nats.connect(NATS_URL)
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        found = []
        for number in range(info.state.first_seq, info.state.last_seq + 1):
            message = await js.get_msg(stream, number)
            headers = message.headers or {}
            found.append((message.subject, orjson.loads(message.data), headers["Nats-Msg-Id"]))
        return found
    finally:
        await client.close()


async def _delete_stream(stream: str) -> None:
    import nats

    client = await nats.connect(NATS_URL)
    try:
        await client.jetstream().delete_stream(stream)
    except Exception:  # the test may have failed before the stream existed
        pass
    finally:
        await client.close()


@pytest.fixture
def config() -> Iterator[RelayConfig]:
    tag = uuid.uuid4().hex[:10]
    made = RelayConfig(
        url=NATS_URL, stream=f"MDM_TEST_{tag}", subject_prefix=f"mdmtest.{tag}", batch=50
    )
    yield made
    asyncio.run(_delete_stream(made.stream))


def test_the_stream_holds_every_event_once_in_order(hub: Hub, config: RelayConfig) -> None:
    _vendors(hub, 120)
    relay = Relay(hub.database, config)
    assert asyncio.run(relay.run(until_caught_up=True)) == 120
    # Nothing new: a second run publishes nothing and the position stays.
    assert asyncio.run(Relay(hub.database, config).run(until_caught_up=True)) == 0
    _vendors(hub, 30, start=120)
    assert asyncio.run(Relay(hub.database, config).run(until_caught_up=True)) == 30

    messages = asyncio.run(_stream_messages(config.stream))
    sequences = _sequences(hub)
    assert [m[1]["seq"] for m in messages] == sequences
    assert [int(m[2]) for m in messages] == sequences  # the message id is the sequence
    assert {m[0] for m in messages} == {f"{config.subject_prefix}.vendor"}
    assert {m[1]["kind"] for m in messages} == {"created"}
    assert stored_position(hub.database, config.consumer) == sequences[-1]
    with hub.database.read_session() as session:
        stored = dict(session.execute(select(ChangeEvent.seq, ChangeEvent.payload)).all())
    assert all(m[1]["payload"] == stored[m[1]["seq"]] for m in messages)  # spliced as stored
    assert any(m[1]["payload"] for m in messages)


def test_a_relay_killed_mid_stream_and_restarted_publishes_each_event_once(
    hub: Hub, config: RelayConfig
) -> None:
    _vendors(hub, 1_500)
    sequences = _sequences(hub)
    command = [
        sys.executable,
        "-m",
        "mdm.cli",
        "relay",
        config.url,
        "--stream",
        config.stream,
        "--subject-prefix",
        config.subject_prefix,
        "--batch",
        "25",
        "--max-rate",
        "1500",
        "--until-caught-up",
    ]
    env = {**os.environ, "MDM_DATABASE_URL": hub.settings.database_url}
    first = subprocess.Popen(command, env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while stored_position(hub.database, config.consumer) < sequences[200]:
        assert first.poll() is None, "the relay ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = stored_position(hub.database, config.consumer)
    assert killed_at < sequences[-1], "the relay finished before it was killed"

    second = subprocess.run(command, env=env, cwd=ROOT, timeout=120)
    assert second.returncode == 0
    messages = asyncio.run(_stream_messages(config.stream))
    assert [m[1]["seq"] for m in messages] == sequences  # each once, in order
    assert stored_position(hub.database, config.consumer) == sequences[-1]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"url": "http://x"}, "url", id="not-nats"),
        pytest.param({"stream": "a b"}, "stream", id="stream-space"),
        pytest.param({"subject_prefix": "a.>"}, "subjectPrefix", id="wildcard"),
        pytest.param({"batch": 0}, "batch", id="batch"),
        pytest.param({"max_rate": -1.0}, "maxRate", id="rate"),
    ],
)
def test_bad_relay_settings_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        RelayConfig(**changes).validate()
    assert refused.value.field == field


def test_an_unreachable_server_is_a_clear_error(hub: Hub) -> None:
    from mdm.errors import UnavailableError

    config = RelayConfig(url="nats://127.0.0.1:1", stream="MDM_TEST_DOWN", subject_prefix="x.y")
    with pytest.raises(UnavailableError) as refused:
        asyncio.run(Relay(hub.database, config).run(until_caught_up=True))
    assert refused.value.field == "url" and "127.0.0.1:1" in refused.value.message


class _Reply:
    def __init__(self, subject: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.subject, self.data, self.headers = subject, data, headers


def test_acknowledgements_are_counted_and_a_refusal_or_silence_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every message of a batch must be acknowledged (a duplicate's ack counts); an error
    reply, a no-responders status or no reply at all ends the relay with UNAVAILABLE, so
    it resumes from its stored position."""
    from mdm import relay
    from mdm.errors import UnavailableError

    monkeypatch.setattr(relay, "ACK_SECONDS", 0.2)

    async def scenario() -> list[str]:
        outcomes = []
        acks = relay._Acks("_INBOX.test")
        subjects = [acks.expect(seq) for seq in (7, 8)]
        assert subjects == ["_INBOX.test.7", "_INBOX.test.8"]
        await acks.received(_Reply(subjects[1], b'{"stream":"S","seq":2,"duplicate":true}'))
        waiting = asyncio.ensure_future(acks.wait())
        await asyncio.sleep(0.01)
        assert not waiting.done()  # 7 is still unacknowledged
        await acks.received(_Reply(subjects[0], b'{"stream":"S","seq":1}'))
        await asyncio.wait_for(waiting, 1)
        outcomes.append("acknowledged")
        for reply in (
            _Reply("_INBOX.x.9", b'{"error":{"code":503,"description":"stream offline"}}'),
            _Reply("_INBOX.x.9", b"", {"Status": "503"}),
            None,  # silence
        ):
            acks = relay._Acks("_INBOX.x")
            acks.expect(9)
            if reply is not None:
                await acks.received(reply)
            try:
                await acks.wait()
            except UnavailableError as error:
                outcomes.append(str(error))
        return outcomes

    outcomes = asyncio.run(scenario())
    assert outcomes[0] == "acknowledged"
    assert "stream offline" in outcomes[1] and "event 9" in outcomes[1]
    assert "status 503" in outcomes[2]
    assert "within" in outcomes[3] and len(outcomes) == 4
