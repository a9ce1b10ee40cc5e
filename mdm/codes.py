"""Reference data: canonical code sets, per-system transcodings, learned correspondences.

``CodeBook`` is the in-memory view that standardization and matching read: which codes are
canonical, how each system's values transcode, and which learned correspondences are
strong enough to count as match evidence. It is immutable; ``load_codebook`` builds a new
one from the store when the reference data's version changes (``CodeBookCache``).

Every change of reference data writes one ``audit_log`` row with one of ``ACTIONS``; the
newest such row's id is the reference data's version. Files, steward edits and learning
live in ``mdm.reference``.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchers.coded import CodeVocabulary, raw_code_token, shipped_code_vocabularies
from mdm.store import AuditLog, CodeCorrespondence, CodeSet, Transcoding, core_connection

LEARNED_MARK = "~"  # prefix of a matching token that rests on a learned correspondence


def _key(value: str) -> str:
    return " ".join(value.split()).upper()


def code_key(value: str) -> str:
    """How coded values and codes are compared: trimmed, spaces collapsed, upper-cased."""
    return _key(value)


@dataclass(frozen=True)
class CodeBook:
    """Canonical codes, transcodings and evidence-grade learned correspondences.

    Attributes:
        codes: code set name -> its canonical codes (upper case).
        transcodings: ``(code set, system, source value upper-cased)`` -> canonical code.
        learned: ``(code set, system, value)`` -> the canonical code a learned
            correspondence above the configured support points to (evidence only, never
            written into a record).
        version: the reference data's version this book was built from.
        labels: ``(code set, display label upper-cased)`` -> code, for labels that name
            one code only: a system writing the company's name where another writes its
            number is evidence (the "learned" level), never a transcoding.
        vocabularies: code set -> the spellings of its codes the hub ships
            (``matchers.shipped_code_vocabularies``: location types). They say what a
            value means when its code set is not loaded, and name loaded codes in the
            spellings systems use ("Dept." for ``DEPARTMENT``); loaded codes and
            transcodings win.
    """

    codes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    transcodings: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    learned: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    version: int = 0
    labels: Mapping[tuple[str, str], str] = field(default_factory=dict)
    vocabularies: Mapping[str, CodeVocabulary] = field(default_factory=shipped_code_vocabularies)

    def has(self, code_set: str) -> bool:
        """Whether values of the code set are read as codes (``transcode``): it is loaded,
        or the hub ships a vocabulary for it. Without either, values are kept as written."""
        return code_set in self.codes or code_set in self.vocabularies

    def transcode(self, code_set: str, system: str, value: str) -> tuple[str, bool]:
        """``(value, mapped)``: the canonical code for a system's value, or the value as
        written (upper-cased) and ``False`` when the code set is loaded and the value is
        neither a canonical code nor transcoded nor a shipped spelling of one. A code set
        that is not loaded maps a shipped spelling to its code ("NURS UNIT" to
        ``NURSING_UNIT``) and any other value to itself."""
        text = _key(value)
        codes = self.codes.get(code_set)
        if codes is None:
            return self._spelled_code(code_set, text) or text, True
        found = self.transcodings.get((code_set, system, text))
        if found is not None:
            return found, True
        if text in codes:
            return text, True
        spelled = self._spelled_code(code_set, text)
        return (text, False) if spelled is None else (spelled, True)

    def match_token(self, code_set: str, system: str, value: str | None) -> str | None:
        """What matching compares for a stored coded value.

        A canonical code compares as itself; an unmapped value with a learned
        correspondence, or written as a code's display label, compares as ``~code`` (the
        "learned" level: evidence, weaker than a code); any other unmapped value is
        missing: it never makes or breaks a match by itself. A value of a code set that is
        not loaded compares as the code its shipped vocabulary reads it as ("NURS UNIT" is
        ``NURSING_UNIT``), or else as its system's own spelling (``raw_code_token``).
        """
        if value is None:
            return None
        codes = self.codes.get(code_set)
        text = _key(value)
        spelled = self._spelled_code(code_set, text)
        if codes is None:
            if spelled is not None:
                return spelled
            # Nothing says what the value means: the system's own spelling (its known
            # words as codes), equal to the same spelling and to nothing else of its
            # system, and never against a code or another system's spelling
            # (``matchers.CodeComparison``).
            vocabulary = self.vocabularies.get(code_set)
            return raw_code_token(system, vocabulary.spelled(text) if vocabulary else text)
        if text in codes:
            return text
        if spelled is not None:
            return spelled
        learned = self.learned.get((code_set, system, text)) or self.labels.get((code_set, text))
        return None if learned is None else LEARNED_MARK + learned

    def _spelled_code(self, code_set: str, text: str) -> str | None:
        """The code a shipped spelling names, as the loaded code set writes it: the code
        itself, or the one loaded code that is a spelling of it (a site's ``DEPT``);
        None when the loaded set has no such code (a site that files nursing units
        under ``DEPARTMENT`` knows no ``NURSING_UNIT``), or the spelling is unknown."""
        vocabulary = self.vocabularies.get(code_set)
        found = vocabulary.canonical(text) if vocabulary is not None else None
        codes = self.codes.get(code_set)
        if found is None or codes is None or found in codes:
            return found
        assert vocabulary is not None
        named = [code for code in codes if vocabulary.canonical(code) == found]
        return named[0] if len(named) == 1 else None


EMPTY_CODEBOOK = CodeBook()


# -- loading the book from the store -----------------------------------------------------

LOAD = "reference_data.load"
SET_TRANSCODING = "reference_data.set_transcoding"
DELETE_TRANSCODING = "reference_data.delete_transcoding"
LEARN = "reference_data.learn"
ACCEPT = "reference_data.accept_correspondence"
REJECT = "reference_data.reject_correspondence"
ACTIONS = (LOAD, SET_TRANSCODING, DELETE_TRANSCODING, LEARN, ACCEPT, REJECT)
"""The audit actions that change reference data (each bumps its version)."""


def reference_data_version(session: Session) -> int:
    """The reference data's version: the id of its newest audit row (0: never changed).

    The newest matching row found from the newest audit row backwards (primary key
    order): cheap enough to run per ingest batch.
    """
    found = core_connection(session).scalar(_NEWEST_REFERENCE_DATA_CHANGE)
    return int(found or 0)


_NEWEST_REFERENCE_DATA_CHANGE = (
    select(AuditLog.id).where(AuditLog.action.in_(ACTIONS)).order_by(AuditLog.id.desc()).limit(1)
)  # built once: it runs for every ingest


MIN_SUPPORT = 3
"""Golden records that must show a learned correspondence before it counts as evidence."""

MAX_CONFLICT_SHARE = 0.2
"""Largest share of contrary observations a learned correspondence may have."""


def conflict_share(support: int, conflicts: int) -> float:
    """The share of observations of a value that point elsewhere (0 with none at all)."""
    total = support + conflicts
    return conflicts / total if total else 0.0


def is_evidence(
    support: int,
    conflicts: int,
    *,
    min_support: int = MIN_SUPPORT,
    max_conflict_share: float = MAX_CONFLICT_SHARE,
) -> bool:
    """Whether a proposed correspondence is strong enough to be match evidence."""
    return support >= min_support and conflict_share(support, conflicts) <= max_conflict_share


def load_codebook(
    session: Session,
    *,
    min_support: int = MIN_SUPPORT,
    max_conflict_share: float = MAX_CONFLICT_SHARE,
) -> CodeBook:
    """The reference data as a ``CodeBook``, stamped with the version it was read at.

    ``learned`` holds proposed correspondences that pass both thresholds, from
    ``(code set, system_a, value_a)`` to a canonical code: ``value_b`` when it is one,
    else ``value_b``'s transcoding. A value whose strong proposals point to different
    codes is left out (ambiguous).

    Example:
        >>> book = load_codebook(session)
        >>> book.transcode("company", "PROCUREMENT", "hhn")
        ('1000', True)
    """
    version = reference_data_version(session)  # read first: a later change reloads again
    codes: dict[str, set[str]] = defaultdict(set)
    named: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, code, display in session.execute(select(CodeSet.name, CodeSet.code, CodeSet.display)):
        codes[name].add(code)
        if display:
            named[(name, _key(display))].add(code)
    labels = {key: next(iter(found)) for key, found in named.items() if len(found) == 1}
    transcodings = {
        (t.code_set, t.system, t.source_value): t.code
        for t in session.execute(
            select(
                Transcoding.code_set, Transcoding.system, Transcoding.source_value, Transcoding.code
            )
        )
    }
    targets: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    proposals = session.execute(
        select(
            CodeCorrespondence.code_set,
            CodeCorrespondence.system_a,
            CodeCorrespondence.value_a,
            CodeCorrespondence.system_b,
            CodeCorrespondence.value_b,
        ).where(
            CodeCorrespondence.status == "proposed",
            CodeCorrespondence.support >= min_support,
            CodeCorrespondence.conflicts
            <= max_conflict_share * (CodeCorrespondence.support + CodeCorrespondence.conflicts),
        )
    )
    for code_set, system_a, value_a, system_b, value_b in proposals:
        canonical = codes.get(code_set)
        if canonical is None:
            continue
        target = (
            value_b if value_b in canonical else transcodings.get((code_set, system_b, value_b))
        )
        if target is not None and value_a not in canonical:
            targets[(code_set, system_a, value_a)].add(target)
    learned = {key: next(iter(found)) for key, found in targets.items() if len(found) == 1}
    return CodeBook(
        codes={name: frozenset(values) for name, values in codes.items()},
        transcodings=transcodings,
        learned=learned,
        version=version,
        labels=labels,
    )


SESSION_KEY = "mdm.codebook"


def forget_codebook(session: Session) -> None:
    """Drop the code book a session remembers (its reference data just changed)."""
    session.info.pop(SESSION_KEY, None)


class CodeBookCache:
    """The current ``CodeBook``, reloaded only when the reference data's version changed.

    Each ``get`` costs one small query (the version); a reload happens once per change.

    Example:
        >>> cache = CodeBookCache()
        >>> book = cache.get(session)
    """

    def __init__(
        self, *, min_support: int = MIN_SUPPORT, max_conflict_share: float = MAX_CONFLICT_SHARE
    ) -> None:
        self.min_support = min_support
        self.max_conflict_share = max_conflict_share
        self._book: CodeBook | None = None
        self._lock = threading.Lock()

    def get(self, session: Session) -> CodeBook:
        """The book for the store ``session`` reads; rebuilt if its version is stale.

        The version is read once per session (standardization and matching of one record
        both ask); a reference data change made through the session forgets it
        (``forget_codebook``)."""
        memo = session.info.get(SESSION_KEY)
        if memo is not None and memo[0] is self:
            return memo[1]  # type: ignore[no-any-return]
        book = self._current(session)
        session.info[SESSION_KEY] = (self, book)
        return book

    def _current(self, session: Session) -> CodeBook:
        version = reference_data_version(session)
        book = self._book
        if book is not None and book.version == version:
            return book
        with self._lock:
            book = self._book
            if book is None or book.version != version:
                book = load_codebook(
                    session,
                    min_support=self.min_support,
                    max_conflict_share=self.max_conflict_share,
                )
                self._book = book
        return book

    def invalidate(self) -> None:
        """Forget the cached book (the next ``get`` reloads)."""
        self._book = None
