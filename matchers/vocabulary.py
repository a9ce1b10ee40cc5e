"""Hospital vocabulary for department, unit and cost-center names.

"ED", "EMERG DEPT" and "Emergency Department" are one department; "3S" is "3 SOUTH".
The table lives in ``data/hospital_units.tsv`` and can be extended by the caller.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from matchers.comparisons import Comparison, FuzzyTextComparison
from matchers.text import fold

_MAX_PHRASE = 4
_FLOOR_WING = re.compile(r"^(\d{1,2})([NSEW])$")
_TOWER = re.compile(r"^T(\d{1,2})$")  # "T2" is Tower 2 ("T2 4 WEST")
# A building of a campus: with its number ("TOWER 2", "BUILDING 3") it tells two units
# with the same floor and wing apart.
_BUILDING_WORDS = frozenset({"TOWER", "BUILDING", "PAVILION"})
_WINGS = {"N": "NORTH", "S": "SOUTH", "E": "EAST", "W": "WEST"}
_WING_WORDS = frozenset(_WINGS.values())


_SITE: dict[tuple[str, ...], tuple[str, ...]] = {}


@cache
def unit_vocabulary() -> dict[tuple[str, ...], tuple[str, ...]]:
    """The vocabulary: variant words -> canonical words (shipped, then the site's)."""
    text = resources.files("matchers").joinpath("data/hospital_units.tsv").read_text("utf-8")
    table = {tuple(fold(v).split()): tuple(c.split()) for v, c in parse_vocabulary(text)}
    return {**table, **_SITE}


def parse_vocabulary(text: str, origin: str = "vocabulary") -> list[tuple[str, str]]:
    """``variant<TAB>canonical`` lines (``#`` comments and blank lines skipped).

    Raises:
        ValueError: a line is not two non-empty tab-separated fields (names the line).
    """
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fold(fields[0]) or not fold(fields[1]):
            raise ValueError(f"{origin}:{number}: expected 'variant<TAB>canonical', got {line!r}")
        entries.append((fields[0], fields[1]))
    return entries


def extend_unit_vocabulary(entries: Mapping[str, str]) -> None:
    """Add a site's vocabulary (``variant -> canonical``, e.g. ``{"EC": "EMERGENCY
    DEPARTMENT"}``); its entries win over the shipped ones. Affects every comparison and
    blocking key built on unit names from now on."""
    _SITE.update({tuple(fold(k).split()): tuple(fold(v).split()) for k, v in entries.items()})
    _forget()


def reset_unit_vocabulary() -> None:
    """Back to the shipped vocabulary (drops every site entry)."""
    _SITE.clear()
    _forget()


def _forget() -> None:
    unit_vocabulary.cache_clear()
    _PREPARED.clear()
    _dictionary.cache_clear()
    _spelled.cache_clear()


@cache
def _dictionary() -> frozenset[str]:
    words = {w for key, value in unit_vocabulary().items() for w in (*key, *value)}
    return frozenset(w for w in words if len(w) >= 4 and w.isalpha()) | _STOP_WORDS


@lru_cache(maxsize=1 << 14)
def _spelled(token: str) -> str:
    """A vocabulary word one typo away ("UINT", "PDIATRICS"), or the token as it is."""
    if len(token) < 4 or not token.isalpha() or not _VOWELS & set(token):
        return token  # short, a code, or an initialism ("HHSP" is no typo of "HOSP")
    words = _dictionary()
    if token in words:
        return token
    for word in sorted(words):
        if word[0] == token[0] and abs(len(word) - len(token)) <= 1:
            if OSA.distance(word, token) <= 1:
                return word
    return token


def _wing_typo(token: str) -> str | None:
    """The wing a word after a floor number is one typo away from ("EAT", "WETS")."""
    if token in _WING_WORDS or len(token) < 3 or not token.isalpha():
        return None
    near = [w for w in _WING_WORDS if OSA.distance(w, token) <= 1]
    return near[0] if len(near) == 1 else None


def normalize_unit_name(text: str, extra: Mapping[str, str] | None = None) -> str:
    """Fold a department or unit name and spell its abbreviations out.

    Args:
        text: The name as received, e.g. ``"Emerg Dept - 3S"``.
        extra: More ``variant -> canonical`` entries (site vocabulary); they win.

    Returns:
        The canonical words, e.g. ``"EMERGENCY DEPARTMENT 3 SOUTH"``.

    Example:
        >>> normalize_unit_name("L&D")
        'LABOR AND DELIVERY'
    """
    table = unit_vocabulary()
    if extra:
        table = {
            **table,
            **{tuple(fold(k).split()): tuple(fold(v).split()) for k, v in extra.items()},
        }
    words: list[str] = []
    for token in fold(text).split():
        wing = _FLOOR_WING.match(token)
        tower = _TOWER.match(token)
        if wing:
            words += [wing[1], _WINGS[wing[2]]]
        elif tower:
            words += ["TOWER", tower[1]]
        elif token in _WINGS and words and words[-1].isdigit():
            words.append(_WINGS[token])  # "3 E" is "3 EAST"
        elif words and words[-1].isdigit() and (typo := _wing_typo(token)):
            words.append(typo)  # "7 EAT" is 7 EAST
        else:
            words.append(_spelled(token))
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in range(min(_MAX_PHRASE, len(words) - i), 0, -1):
            canonical = table.get(tuple(words[i : i + size]))
            if canonical is not None:
                out += canonical
                i += size
                break
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


_CODE = re.compile(r"(?=[A-Z]*\d)(?=\d*[A-Z])[A-Z0-9]+")
_STOP_WORDS = frozenset(
    {
        "DEPARTMENT",
        "UNIT",
        "SERVICES",
        "SERVICE",
        "CENTER",
        "AREA",
        "MAIN",
        "SUPPLY",
        "SUPPLIES",
        "THE",
        "OF",
        "AND",
        "FOR",
    }
)


_TRUNCATED_AT = 20  # a name cut at a field width keeps at least this many characters


def _truncated(left: str, right: str) -> bool:
    short, long_ = sorted((left, right), key=len)
    return len(short) >= _TRUNCATED_AT and len(short) < len(long_) and long_.startswith(short)


def _aligned(left: frozenset[str], right: frozenset[str]) -> frozenset[str]:
    """``left``'s words, each replaced by a word of ``right`` one typo away ("UPLAD" and
    "UPLAND", "NORTGHATE" and "NORTHGATE"), so a typo costs no more than it should."""
    out = set()
    for word in left:
        if word in right or len(word) < 5:
            out.add(word)
            continue
        near = [w for w in right if abs(len(w) - len(word)) <= 1 and OSA.distance(w, word) <= 1]
        out.add(near[0] if len(near) == 1 else word)
    return frozenset(out)


_VOWELS = frozenset("AEIOU")


def _is_mnemonic(word: str) -> bool:
    """An initialism such as a facility's ("HHN", "HHST", "HHNA"): short, not a word of
    the vocabulary, and not pronounceable (no vowel, or a doubled first letter)."""
    if not (word.isalpha() and len(word) <= 5) or word in _dictionary():
        return False
    return not (_VOWELS & set(word)) or (len(word) > 1 and word[0] == word[1])


def _site_qualified(short: UnitName, long_: UnitName) -> bool:
    """``long_`` is ``short`` with a leading qualifier the vocabulary does not know: a site
    or community name, with its number if it has one ("Thornbury Orthopedics", "Kestrel 2
    Pediatrics", "HHN Ironwood 17 Orthopedics")."""
    if not short.content or not short.content < long_.content:
        return False
    words = long_.text.split()
    first_shared = min(k for k, w in enumerate(words) if w in short.content)
    leading = words[:first_shared]
    names = [w for w in leading if w.isalpha() and len(w) > 2 and not _is_mnemonic(w)]
    if not names or any(w in _dictionary() for w in names):
        return False
    rest = prepare_unit_name(" ".join(words[first_shared:]))
    return rest is not None and (rest.content, rest.numbers, rest.wings, rest.buildings) == (
        short.content,
        short.numbers,
        short.wings,
        short.buildings,
    )


@dataclass(frozen=True)
class UnitName:
    """A unit name prepared for comparison."""

    text: str  # canonical words
    content: frozenset[str]  # words that tell units apart (no codes, no generic words)
    numbers: frozenset[int]  # "PAR 01" and "PAR 1" agree; "PAR 1", "PAR 2", "PAR" do not
    codes: frozenset[str]  # letters-and-digits codes ("CL005"): site or unit identifiers
    wings: frozenset[str]  # NORTH, SOUTH, EAST, WEST: "2 WEST" is not "2 EAST"
    buildings: frozenset[str] = frozenset()  # "TOWER 2": its number is not the floor


# Prepared names by text (shipped and site vocabulary only): a hospital's departments
# repeat the same few names ("ICU", "Pharmacy"), each folded and looked up word by word.
_PREPARED: dict[str, UnitName | None] = {}
_PREPARED_SIZE = 65_536


def prepare_unit_name(text: str, extra: Mapping[str, str] | None = None) -> UnitName | None:
    """Canonical words, distinctive words and numbers of a unit name."""
    if extra:
        return _prepare_unit_name(text, extra)
    if text in _PREPARED:
        return _PREPARED[text]
    if len(_PREPARED) >= _PREPARED_SIZE:
        _PREPARED.clear()
    found = _PREPARED[text] = _prepare_unit_name(text, None)
    return found


def _prepare_unit_name(text: str, extra: Mapping[str, str] | None) -> UnitName | None:
    canonical = normalize_unit_name(text, extra)
    if not canonical:
        return None
    words = canonical.split()
    building_numbers = {
        k + 1 for k, w in enumerate(words[:-1]) if w in _BUILDING_WORDS and words[k + 1].isdigit()
    }
    buildings = frozenset(f"{words[k - 1]} {int(words[k])}" for k in building_numbers)
    numbers = frozenset(
        int(w) for k, w in enumerate(words) if w.isdigit() and k not in building_numbers
    )
    codes = frozenset(w for w in words if _CODE.fullmatch(w))
    # Short letter codes are facility mnemonics ("HHN ICU"), not the unit; so is a
    # leading word of up to five letters the vocabulary does not know ("HHST 2 WEST").
    content = frozenset(
        w
        for k, w in enumerate(words)
        if not w.isdigit()
        and w not in codes
        and len(w) > 3
        and w not in _STOP_WORDS
        and not (k == 0 and len(words) > 1 and _is_mnemonic(w))
    )
    wings = frozenset(w for w in words if w in _WING_WORDS)
    return UnitName(canonical, content, numbers, codes, wings, buildings)


class UnitNameComparison(Comparison[UnitName]):
    """Department, unit and cost-center names, after ``normalize_unit_name``.

    Levels: ``exact``, ``similarity_<t>``… (descending thresholds), ``contained``,
    ``different``, ``conflict``. ``contained``: the distinctive words of one name are all
    in the other, and they say more than a kind of unit ("Higgins" and "Chicago Public
    Schools Higgins C.A., Thomas J.", an operator's name put before a site's; never
    "Laboratory" and "Cardiac Cath Lab"): weak evidence, never a veto. Different numbers
    ("PAR 1" vs "PAR 2"; "PEDIATRICS" vs "PEDIATRICS 2", the second of its kind; not the
    record's own house number), different site codes ("CL005" vs "CL006"), different
    wings ("2 WEST" vs "2E") and different buildings ("TOWER 2" vs "T3") are a
    ``conflict``: two units by construction. A building named on one side only, and names
    that merely share no words, are ``different`` (which may be a gap in the vocabulary).
    Similarity is the token-set ratio of the distinctive words when the shorter name has
    two or more of them (so "HHN ICU" meets "Intensive Care Unit"), and the token-sort
    ratio otherwise (so "Laboratory" does not meet "Cardiac Cath Lab").
    """

    def __init__(
        self,
        attribute: str = "name",
        thresholds: tuple[float, ...] = (0.95, 0.85),
        *,
        name: str | None = None,
        extra: Mapping[str, str] | None = None,
        address_attribute: str | None = None,
    ) -> None:
        """``address_attribute``: the record's street line; its house number written in
        the name ("Robertson Center - Ogden 3701" at 3701 W Ogden Ave) is not a unit
        number."""
        self.name = name or attribute
        self.address_attribute = address_attribute
        self.attributes = (attribute,) + ((address_attribute,) if address_attribute else ())
        self.thresholds = tuple(float(t) for t in thresholds)
        self.levels = (
            "exact",
            *(f"similarity_{t:g}" for t in self.thresholds),
            "contained",
            "different",
            "conflict",
        )
        *graded, (m, u) = FuzzyTextComparison(attribute, thresholds).default_parameters
        # "different" names may be a vocabulary gap ("EC" for the ED); "conflict" is two
        # units by construction (PAR 1 / PAR 2, 2 WEST / 2 EAST, CL005 / CL006).
        self.default_parameters = (
            *graded,
            (0.05, 0.01),
            (m * 0.9, u * 0.8),
            (m * 0.1, u * 0.2),
        )
        self.extra = dict(extra or {})

    def prepare(self, record: Mapping[str, Any]) -> UnitName | None:
        value = record.get(self.attributes[0])
        text = str(value).strip() if value is not None else ""
        prepared = prepare_unit_name(text, self.extra) if text else None
        if prepared is None or not prepared.numbers or self.address_attribute is None:
            return prepared
        street = record.get(self.address_attribute)
        number = _HOUSE_NUMBER.match(str(street)) if street else None
        if number is None or int(number.group(1)) not in prepared.numbers:
            return prepared
        return dataclasses.replace(prepared, numbers=prepared.numbers - {int(number.group(1))})

    def compare(self, left: UnitName, right: UnitName) -> int:
        conflict = len(self.levels) - 1
        different = conflict - 1
        if left.content != right.content and (
            _site_qualified(left, right) or _site_qualified(right, left)
        ):
            return 1  # one system puts the site's name first ("Kestrel 2 Pediatrics")
        if left.numbers != right.numbers:
            return conflict
        if left.codes and right.codes and left.codes != right.codes:
            return conflict
        if left.wings and right.wings and left.wings != right.wings:
            return conflict
        if left.buildings != right.buildings:
            # Tower 2 and Tower 3 are two units; "2 NORTH" and "TOWER 2 2 NORTH" may be the
            # main building's and the tower's (or a system leaving the building out).
            return conflict if left.buildings and right.buildings else different
        if left.content == right.content and (left.content or left.text == right.text):
            return 0
        if _truncated(left.text, right.text):
            return 1  # one system cut the name at its field width ("...COMMUNI")
        if not left.content or not right.content:
            return different
        shorter = left.content if len(left.content) <= len(right.content) else right.content
        if (left.content <= right.content or right.content <= left.content) and any(
            w not in _dictionary() for w in shorter
        ):
            # Only a name that says more than the kind of unit: "Higgins" within "Chicago
            # Public Schools Higgins", never "Laboratory" within "Cardiac Cath Lab".
            contained = different - 1
        else:
            contained = different
        aligned = _aligned(left.content, right.content)
        a, b = " ".join(sorted(aligned)), " ".join(sorted(right.content))
        if min(len(left.content), len(right.content)) >= 2:
            score = fuzz.token_set_ratio(a, b) / 100
        else:
            score = fuzz.token_sort_ratio(a, b) / 100
        graded = next((k for k, t in enumerate(self.thresholds) if score >= t), None)
        return contained if graded is None else 1 + graded


_HOUSE_NUMBER = re.compile(r"\s*(\d{1,6})\b")


def unit_name_key(
    attribute: str = "name", postal_attribute: str | None = "postal_code"
) -> Callable[[Mapping[str, Any]], set[str]]:
    """Blocking key: a unit name's distinctive words (after the vocabulary), in order,
    with the 5-digit postal code when there is one.

    "HHS Emergency Department" and "EMERGENCY DEPT" at one postal code meet, even when
    a building holds more departments than a block can.
    """

    def keys(record: Mapping[str, Any]) -> set[str]:
        value = record.get(attribute)
        prepared = prepare_unit_name(str(value)) if value else None
        if prepared is None or not prepared.content:
            return set()
        words = " ".join(sorted(prepared.content))
        postal = record.get(postal_attribute) if postal_attribute else None
        return {f"{str(postal)[:5]}|{words}" if postal else words}

    return keys
