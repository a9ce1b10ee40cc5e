"""Source systems: the registered systems of record and their mappings."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.errors import InvalidInputError, UnknownSystemError
from mdm.store import SourceSystem

_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


def register_system(
    session: Session, code: str, name: str, mapping: dict[str, Any] | None = None
) -> SourceSystem:
    """Create or update a source system (codes are upper-case, e.g. ``ERP``)."""
    if not _CODE.match(code):
        raise InvalidInputError(
            f"system code {code!r} must be upper-case letters, digits or _", field="code"
        )
    system = session.scalar(select(SourceSystem).where(SourceSystem.code == code))
    if system is None:
        system = SourceSystem(code=code, name=name, mapping=mapping)
        session.add(system)
    else:
        system.name = name
        if mapping is not None:
            system.mapping = mapping
    session.flush()
    return system


def list_systems(session: Session) -> list[SourceSystem]:
    return list(session.scalars(select(SourceSystem).order_by(SourceSystem.code)))


class SystemDirectory:
    """Cached set of known system codes (systems are few and rarely added)."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    def require(self, session: Session, code: str, *, field: str = "system") -> None:
        """Raise ``UnknownSystemError`` unless ``code`` is a registered system."""
        if code in self._known:
            return
        codes = set(session.scalars(select(SourceSystem.code)))
        self._known = codes
        if code not in codes:
            known = ", ".join(sorted(codes)) or "none registered"
            raise UnknownSystemError(f"unknown source system {code!r} ({known})", field=field)
