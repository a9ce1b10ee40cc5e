"""Engine and session factories; the only place that knows about database dialects."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from mdm.store.checkpoints import CHECKPOINT_SECONDS, Checkpointer

T = TypeVar("T")

# The repository keeps the Alembic scripts in migrations/ at its root; the wheel ships them
# as mdm/store/migrations (pyproject.toml's package-dir), as the checkout has no such folder.
_INSTALLED_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATIONS_DIR = (
    _INSTALLED_MIGRATIONS
    if _INSTALLED_MIGRATIONS.is_dir()
    else Path(__file__).resolve().parents[2] / "migrations"
)


class Database:
    """An engine with its session factories.

    ``session()`` is the read-write unit of work. ``read_session()`` is the seam for read
    replicas: today it uses the same engine.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine_for(url, echo=echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: readers take no write lock (deferred BEGIN); writers take it up front.
        self.read_engine = (
            create_engine_for(url, echo=echo, for_writes=False)
            if self.engine.dialect.name == "sqlite"
            else self.engine
        )
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        self.checkpointer: Checkpointer | None = None
        self._kept = threading.local()  # each thread's kept read connection (``read``)
        self._kept_engine: Engine | None = None  # theirs, without a pool (PostgreSQL)
        self._kept_all: list[Connection] = []
        self._kept_lock = threading.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reads only (the seam for read replicas)."""
        with self._read_sessions() as session:
            yield session

    def read(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` for statements that each stand alone (one snapshot per
        statement): the change feed's pages and heads, read many times a second.

        On PostgreSQL the connection is this thread's own, kept from one call to the
        next and outside the pool (so a few threads that keep one never starve it): a
        call pays no pool checkout, no liveness check and no transaction (autocommit: no
        BEGIN or ROLLBACK round trip). A kept connection found broken (the server
        restarted) is dropped and ``work`` runs once more on a new one: it only reads.
        On SQLite a pooled read connection serves the call, and its read transaction
        ends with it."""
        if self.is_sqlite:
            with self.read_engine.connect() as connection:
                return work(connection)
        for attempt in (1, 2):
            connection = self._kept_connection()
            try:
                result = work(connection)
            except DBAPIError as error:
                self._drop_kept(connection)
                if attempt == 1 and error.connection_invalidated:
                    continue
                raise
            except BaseException:
                self._end_read(connection)
                raise
            self._end_read(connection)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _kept_connection(self) -> Connection:
        connection: Connection | None = getattr(self._kept, "connection", None)
        if connection is None:
            with self._kept_lock:
                if self._kept_engine is None:
                    self._kept_engine = create_engine_for(self.url, pooled=False)
                engine = self._kept_engine
            connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._kept.connection = connection
            with self._kept_lock:
                self._kept_all.append(connection)
        return connection

    def _end_read(self, connection: Connection) -> None:
        try:
            connection.rollback()  # autocommit: only the connection's own bookkeeping
        except DBAPIError:
            self._drop_kept(connection)

    def _drop_kept(self, connection: Connection) -> None:
        self._kept.connection = None
        with self._kept_lock:
            if connection in self._kept_all:
                self._kept_all.remove(connection)
        _close_quietly(connection, invalidate=True)  # it may be broken: not reused

    def checkpoint_in_background(self, interval: float = CHECKPOINT_SECONDS) -> None:
        """SQLite: commits no longer checkpoint the write-ahead log; a thread does, every
        ``interval`` seconds, until ``dispose()`` (see ``mdm.store.checkpoints``). For a
        long-running server; a no-op on other databases or when already started."""
        if self.is_sqlite and self.checkpointer is None:
            self.checkpointer = Checkpointer(self.engine, interval)

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
        with self._kept_lock:
            kept, self._kept_all = self._kept_all, []
        for connection in kept:  # their threads have ended their work
            _close_quietly(connection)
        if self._kept_engine is not None:
            self._kept_engine.dispose()
            self._kept_engine = None
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def _close_quietly(connection: Connection, *, invalidate: bool = False) -> None:
    """Close a kept connection that is done with (broken, or at shutdown)."""
    try:
        if invalidate:
            connection.invalidate()
        connection.close()
    except Exception:  # noqa: BLE001 (closing a connection no one reads from: nothing to save)
        pass


def core_connection(session: Session) -> Connection:
    """The session's connection, for a Core statement on the request path.

    A statement run through ``Session.execute`` pays the ORM's per-statement work (about
    50-120 us) even when it selects plain columns or writes rows no loaded object mirrors;
    run on the connection it does not. Pending objects are flushed first, as an ORM
    execute would (unless autoflush is off), so the statement sees them. Statements that
    change source or golden records must still go through the session: its listeners
    forget what was resolved from them (``mdm.context``).
    """
    if session.autoflush:
        session.flush()
    return session.connection()


def create_engine_for(
    url: str, *, echo: bool = False, for_writes: bool = True, pooled: bool = True
) -> Engine:
    """An engine for ``url``. ``pooled=False`` (PostgreSQL): no pool, for connections a
    thread keeps (``Database.read``)."""
    parsed = make_url(url)
    # JSON columns (raw and standardized values, lineage, event payloads) are written and
    # read for every record: orjson does it several times faster than the standard library.
    kwargs: dict[str, Any] = {
        "echo": echo,
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take control so that
        # SAVEPOINTs and writes behave as on PostgreSQL.
        begin = "BEGIN IMMEDIATE" if for_writes else "BEGIN"
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
        return engine
    if not pooled:
        return create_engine(url, poolclass=NullPool, **kwargs)
    kwargs["pool_pre_ping"] = True
    kwargs["pool_size"] = 10
    return create_engine(url, **kwargs)


class JsonText:
    """A JSON column's value serialized already (``json_text``), stored as it is.

    Lets the bulk path serialize a value once where it is made (in a worker process, or
    once for the several rows that repeat it) instead of in the writing process at every
    row that holds it. ``text`` is the JSON document.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __reduce__(self) -> tuple[type[JsonText], tuple[str]]:
        return JsonText, (self.text,)  # cheaper to unpickle than the slot-state default

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonText) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def json_text(value: Any) -> JsonText:
    """``value`` serialized as a JSON column would serialize it."""
    return JsonText(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode())


def _json_dumps(value: Any) -> str:
    if type(value) is JsonText:
        return value.text
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# SQLite page cache of a bulk load's connection (KiB): see ``large_page_cache``.
BULK_PAGE_CACHE_KIB = 512 * 1024


@contextmanager
def large_page_cache(session: Session, kib: int = BULK_PAGE_CACHE_KIB) -> Iterator[None]:
    """SQLite: the session's connection caches up to ``kib`` KiB of pages while the block
    runs, then goes back to its cache size. A no-op on other databases.

    A bulk load writes millions of index entries (match keys, the source records' unique
    key) in one transaction, into indexes far larger than SQLite's default 2 MB cache:
    each batch of them then reads its pages back from the file and spills them to the
    log again, more so as the indexes grow (at a million records, a quarter of the match
    keys' insert time). The memory is taken only as pages are cached, and given back.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())
    connection.exec_driver_sql(f"PRAGMA cache_size = {-int(kib)}")
    try:
        yield
    finally:
        if not connection.closed:
            connection.exec_driver_sql(f"PRAGMA cache_size = {previous}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class SessionListeners:
    """Listeners on every ``Session``, installed once on first use (never at import, so
    importing a module changes no global state). ``install`` is idempotent and
    thread-safe."""

    def __init__(self, *listeners: tuple[str, Callable[..., Any]]) -> None:
        self._listeners = listeners
        self._lock = threading.Lock()
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        with self._lock:
            if not self._installed:
                for name, listener in self._listeners:
                    if not event.contains(Session, name, listener):
                        event.listen(Session, name, listener)
                self._installed = True
