"""Relay-style pages: the generic ``Connection``/``Edge``/``PageInfo`` types and keyset cursors.

A cursor is the opaque form of a row's key and of what it is a key of (``g``: golden
records, ``r``: ingest rejections), so a cursor of one list is refused by another.
"""

from __future__ import annotations

import base64
from binascii import b2a_base64
from collections.abc import Sequence
from typing import Generic, TypeVar

import strawberry

from mdm.errors import InvalidInputError

T = TypeVar("T")

GOLDEN_CURSOR = "g"
REJECTION_CURSOR = "r"


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field(description="The nodes of ``edges``, for clients that need no cursors.")
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]


def check_first(first: int, limit: int) -> None:
    """Refuses a page size outside 1..``limit`` (``MDM_MAX_PAGE_SIZE``)."""
    if first < 1 or first > limit:
        raise InvalidInputError(f"first must be between 1 and {limit}", field="first")


def encode_cursor(pk: int, kind: str = GOLDEN_CURSOR) -> str:
    # base64.urlsafe_b64encode, without its two extra calls (a page writes one per event)
    return b2a_base64(f"{kind}:{pk}".encode(), newline=False).translate(_URL_SAFE).decode()


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def decode_cursor(cursor: str, kind: str = GOLDEN_CURSOR) -> int:
    """The key in a cursor of ``kind``; a malformed or foreign cursor is invalid input."""
    try:
        found, _, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if found != kind:
            raise ValueError(kind)
        return int(pk)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError(f"malformed cursor {cursor!r}", field="after") from None


def page_info(edges: Sequence[Edge[T]], has_next: bool) -> PageInfo:
    """Whether more follow, and the cursor to pass as ``after`` for them."""
    return PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None)
