"""Bearer tokens and roles. Tokens are stored as SHA-256 hashes and shown once."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.errors import ForbiddenError, InvalidInputError, NotFoundError, UnauthenticatedError
from mdm.screening import text_problem
from mdm.store import ApiToken, Database, utcnow

TOKEN_PREFIX = "mdm_"


class Role(IntEnum):
    """Roles in increasing power; each includes what the ones below may do."""

    READER = 1  # queries, subscriptions
    INTEGRATOR = 2  # + ingest, crosswalk
    STEWARD = 3  # + review, merge, unmerge, override
    ADMIN = 4  # + tokens, source systems

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            known = ", ".join(r.name.lower() for r in cls)
            raise InvalidInputError(
                f"unknown role {name!r} (one of {known})", field="role"
            ) from None


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and role."""

    name: str
    role: Role

    def require(self, role: Role) -> None:
        if self.role < role:
            raise ForbiddenError(
                f"this needs the {role.name.lower()} role; token {self.name!r} has "
                f"{self.role.name.lower()}"
            )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, role: Role) -> str:
    """Store a new token's hash and return the token (the only time it is shown)."""
    _check_name(name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name.strip(), role=role.name.lower(), token_hash=hash_token(token)))
    session.flush()
    return token


MAX_TOKEN_NAME = 200  # api_token.name


def _check_name(name: str) -> None:
    """Refuse a token name no column takes: blank, too long, or holding a control
    character (a NUL byte, a lone surrogate)."""
    if not name.strip():
        raise InvalidInputError("token name must not be blank", field="name")
    problem = text_problem(name, is_identifier=True)
    if problem is not None:
        raise InvalidInputError(f"token name contains {problem}", field="name")
    if len(name.strip()) > MAX_TOKEN_NAME:
        raise InvalidInputError(
            f"token name is {len(name.strip()):,} characters long; at most {MAX_TOKEN_NAME}",
            field="name",
        )


@dataclass(frozen=True)
class TokenInfo:
    """A stored token as listed (never the token itself: only its hash is kept)."""

    id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


def list_tokens(session: Session) -> list[TokenInfo]:
    """Every token, oldest first, revoked ones too."""
    rows = session.scalars(select(ApiToken).order_by(ApiToken.id))
    return [TokenInfo(r.id, r.name, r.role, r.created_at, r.revoked_at) for r in rows]


def revoke_tokens(session: Session, name: str) -> int:
    """Revoke every live token named ``name``; returns how many. Servers refuse them once
    their cache entry lapses (``MDM_TOKEN_CACHE_SECONDS``), open subscriptions included.

    Raises:
        NotFoundError: no live token has that name.
    """
    _check_name(name)
    live = list(
        session.scalars(
            select(ApiToken).where(ApiToken.name == name.strip(), ApiToken.revoked_at.is_(None))
        )
    )
    if not live:
        raise NotFoundError(f"no live token named {name!r}", field="name")
    now = utcnow()
    for row in live:
        row.revoked_at = now
    session.flush()
    return len(live)


class TokenVerifier:
    """Verifies bearer tokens, caching hits briefly so the hot path skips the database."""

    def __init__(self, database: Database, cache_seconds: float = 30.0) -> None:
        self.database = database
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}

    def verify(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization: Bearer …`` header.

        Raises:
            UnauthenticatedError: missing, malformed, unknown or revoked token.
        """
        if not authorization:
            raise UnauthenticatedError("missing Authorization: Bearer <token> header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError("Authorization header must be 'Bearer <token>'")
        digest = hash_token(token.strip())
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.database.read_session() as session:
            row = session.scalar(
                select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
            )
        if row is None:
            self._cache.pop(digest, None)
            raise UnauthenticatedError("unknown or revoked token")
        principal = Principal(row.name, Role.parse(row.role))
        self._cache[digest] = (now + self.cache_seconds, principal)
        return principal
