"""Runtime settings, built once from ``MDM_*`` environment variables and CLI flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from mdm.errors import InvalidInputError

_PREFIX = "MDM_"


@dataclass(frozen=True)
class Settings:
    """Hub configuration.

    Every field can be set by an environment variable named ``MDM_`` + the field name in
    upper case (``MDM_DATABASE_URL``, ``MDM_PORT``…) and overridden by CLI flags.
    """

    database_url: str = "sqlite:///.demo/mdm.sqlite3"  # from_env: the demo dir's file
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    max_batch_size: int = 1000
    max_page_size: int = 500
    max_query_depth: int = 12
    max_query_fields: int = 1000  # field selections of a document once fragments are expanded
    max_query_cost: int = 100_000  # estimated fields resolved: page sizes times nested lists
    max_body_bytes: int = 8 * 1024 * 1024  # a larger request body is refused (413)
    graphql_workers: int = 4  # threads executing GraphQL operations off the event loop
    introspection: bool = True  # answer __schema / __type queries (GraphiQL needs them)
    graphiql: bool = True
    sql_echo: bool = False
    token_cache_seconds: float = 30.0
    subscription_buffer: int = 1000  # events a live subscriber may lag before CONSUMER_TOO_SLOW
    change_retention_days: float = 0.0  # change events kept this long (0: forever)
    vocabulary: str = ""  # a site's unit vocabulary file (variant<TAB>canonical), if any
    background_reevaluation: bool = True  # mdm serve works the re-evaluation backlog
    bulk_workers: int = 0  # processes standardizing an initial load (0: one per CPU, max 4)
    calibration: bool = True  # a first load estimates its type's match model from its records
    term_frequencies: bool = True  # ...and weighs exact name agreements by the name's rarity
    demo_dir: str = ".demo"  # where `mdm demo` keeps its SQLite file, the default database

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from the environment, then apply explicit overrides.

        Args:
            environ: the variables to read (default: ``os.environ``).
            **overrides: values that win over the environment (CLI flags); ``None`` is ignored.

        Raises:
            InvalidInputError: a variable holds a value of the wrong type.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            name = _PREFIX + field.name.upper()
            if name in env:
                values[field.name] = _coerce(name, env[name], field.type)
        given = {k: v for k, v in overrides.items() if v is not None}
        settings = replace(cls(**values), **given)
        if "database_url" not in values and "database_url" not in given:
            # Every command run from one folder (mdm demo, mdm token create, ...) shares
            # one default database: the demo's.
            settings = replace(settings, database_url=default_database_url(settings.demo_dir))
        return settings


def default_database_url(demo_dir: str) -> str:
    """The SQLite file in ``demo_dir`` (relative to the working directory), as a URL."""
    return f"sqlite:///{(Path(demo_dir).expanduser().resolve() / 'mdm.sqlite3').as_posix()}"


def _coerce(name: str, raw: str, type_name: object) -> Any:
    text = raw.strip()
    try:
        if type_name in ("int", int):
            return int(text)
        if type_name in ("float", float):
            return float(text)
        if type_name in ("bool", bool):
            lowered = text.lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(text)
    except ValueError:
        raise InvalidInputError(
            f"{name}={raw!r} is not a valid {type_name}", field=name, code="INVALID_SETTING"
        ) from None
    return text
