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
from matchers.text import fold, parse_address_line

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
    site: _Site | None = None  # the record's street address, when the comparison reads it


@dataclass(frozen=True)
class _Site:
    """Where a record is: house number, street name and directionals of its street line."""

    number: str
    street: str
    directionals: tuple[str | None, str | None]

    def is_same(self, other: _Site) -> bool:
        """One street address: the same number and street, no conflicting directional
        ("4000 W DIVISION ST" and "4000 W. Division"; never "N MAIN" and "S MAIN")."""
        return (
            self.number == other.number
            and self.street == other.street
            and all(
                a is None or b is None or a == b
                for a, b in zip(self.directionals, other.directionals, strict=True)
            )
        )


def _site_of(street: str) -> _Site | None:
    line = parse_address_line(street)
    if line.is_po_box or not line.number or not line.name:
        return None
    return _Site(line.number, line.name, line.directionals)


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
    ``same_site``, ``different``, ``conflict``. ``contained``: the distinctive words of one
    name are all in the other, and they say more than a kind of unit ("Higgins" and
    "Chicago Public Schools Higgins C.A., Thomas J.", an operator's name put before a
    site's; never "Laboratory" and "Cardiac Cath Lab"): weak evidence, never a veto.
    ``same_site`` (only with ``address_attribute``): the records are at one street address
    (house number and street) and their names share a proper name beyond a leading
    qualifier both start with ("It Takes a Village Child Care" and "Easter Seals Society -
    It Takes a Village"; never "Northgate Lactation" and "Northgate Hospice", a facility's
    units): evidence, never a veto. Different numbers ("PAR 1" vs "PAR 2"; "PEDIATRICS"
    vs "PEDIATRICS 2", the second of its kind; not the record's own address's numbers),
    different site codes ("CL005" vs "CL006"), different wings ("2 WEST" vs "2E") and
    different buildings ("TOWER 2" vs "T3") are a ``conflict``: two units by
    construction. Two names that each say what kind of unit they are, and not the same
    kind ("ICU" and "CVICU"), a building named on one side only, and names that merely
    share no words, are ``different`` (which may be a gap in the vocabulary). Similarity
    is the token-set ratio of the distinctive words when the shorter name has two or more
    of them (so "HHN ICU" meets "Intensive Care Unit"), and the token-sort ratio
    otherwise (so "Laboratory" does not meet "Cardiac Cath Lab").
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
        number, and two names at one street address may be one site's (``same_site``)."""
        self.name = name or attribute
        self.address_attribute = address_attribute
        self.attributes = (attribute,) + ((address_attribute,) if address_attribute else ())
        self.thresholds = tuple(float(t) for t in thresholds)
        self.levels = (
            "exact",
            *(f"similarity_{t:g}" for t in self.thresholds),
            "contained",
            "same_site",
            "different",
            "conflict",
        )
        *graded, (m, u) = FuzzyTextComparison(attribute, thresholds).default_parameters
        # "same_site" is rare among non-matches: it needs one street address as well.
        # "different" names may be a vocabulary gap ("EC" for the ED); "conflict" is two
        # units by construction (PAR 1 / PAR 2, 2 WEST / 2 EAST, CL005 / CL006).
        self.default_parameters = (
            *graded,
            (0.05, 0.01),
            (0.05, 0.0005),
            (m * 0.9, u * 0.8),
            (m * 0.1, u * 0.2),
        )
        self.extra = dict(extra or {})

    def prepare(self, record: Mapping[str, Any]) -> UnitName | None:
        value = record.get(self.attributes[0])
        text = str(value).strip() if value is not None else ""
        prepared = prepare_unit_name(text, self.extra) if text else None
        street = record.get(self.address_attribute) if self.address_attribute else None
        line = str(street).strip() if street is not None else ""
        if prepared is None or not line:
            return prepared
        return dataclasses.replace(
            prepared,
            numbers=prepared.numbers - _address_numbers(line, prepared.numbers),
            site=_site_of(line),
        )

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
        if not left.content or not right.content or _kinds_differ(left, right):
            return different
        aligned = _aligned(left.content, right.content)
        a, b = " ".join(sorted(aligned)), " ".join(sorted(right.content))
        if min(len(left.content), len(right.content)) >= 2:
            score = fuzz.token_set_ratio(a, b) / 100
        else:
            score = fuzz.token_sort_ratio(a, b) / 100
        graded = next((k for k, t in enumerate(self.thresholds) if score >= t), None)
        if graded is not None:
            return 1 + graded
        if _is_contained(left.content, right.content):
            return different - 2
        if _is_same_site(left, right, aligned):
            return different - 1
        return different


def unit_name_term(name: UnitName) -> str:
    """What two names agree on when ``UnitNameComparison`` finds them ``exact``: their
    distinctive words with their numbers and codes ("HHN Pharmacy" and "PHARMACY" agree
    on "PHARMACY", "PEDIATRICS 2" is another value), or the whole name when it has no such
    word. How common it is weighs the agreement (``matchers.frequencies``)."""
    if not name.content:
        return name.text
    return " ".join([*sorted(name.content), *map(str, sorted(name.numbers)), *sorted(name.codes)])


def _is_contained(left: frozenset[str], right: frozenset[str]) -> bool:
    """One name's distinctive words all within the other's, and they say more than a kind
    of unit: "Higgins" within "Chicago Public Schools Higgins", never "Laboratory" within
    "Cardiac Cath Lab"."""
    shorter = left if len(left) <= len(right) else right
    return (left <= right or right <= left) and any(w not in _dictionary() for w in shorter)


# Words of the vocabulary that say whose a unit is or where, not what kind of unit it is.
_SETTING_WORDS = frozenset(
    {"HOSPITAL", "HEALTH", "COMMUNITY", "MEMORIAL", "GENERAL", "REGIONAL", "UNIVERSITY",
     "CLINIC", "BUILDING", "TOWER", "PAVILION", "FLOOR", "ROOM", *_WING_WORDS}
)  # fmt: skip


def _kinds(name: UnitName) -> frozenset[str]:
    """The words of a name that say what kind of unit it is (the vocabulary's)."""
    dictionary = _dictionary()
    return frozenset(w for w in name.content if w in dictionary and w not in _SETTING_WORDS)


def _kinds_differ(left: UnitName, right: UnitName) -> bool:
    """Both names say what kind of unit they are, and not the same: each a kind the other
    does not ("Pharmacy" and "Radiology"), or one the other's kind with a qualifier put
    before it ("ICU" and "CVICU", "Cardiology" and "Pediatric Cardiology"). A kind word
    after the shared ones is the rest of the same name, which one system left out
    ("CARDIAC CATH" and "Cardiac Cath Lab")."""
    a, b = _kinds(left), _kinds(right)
    if not a or not b or a == b:
        return False
    shared = a & b
    if not shared or (a - shared and b - shared):
        return True
    return _qualifies(left.text.split(), shared, a - shared) or _qualifies(
        right.text.split(), shared, b - shared
    )


def _qualifies(words: list[str], shared: frozenset[str], extra: frozenset[str]) -> bool:
    """One of ``extra`` stands right before the first of the ``shared`` kind words."""
    first = min(k for k, w in enumerate(words) if w in shared)
    return first > 0 and words[first - 1] in extra


def _is_same_site(left: UnitName, right: UnitName, aligned: frozenset[str]) -> bool:
    """Two names of one site: the records are at one street address, and the names share a
    proper name beyond a leading qualifier common to both ("It Takes a Village Child Care"
    and "Easter Seals Society - It Takes a Village": an agency's name put before the
    site's). A facility's name before its units' ("Northgate Lactation" and "Northgate
    Hospice") is such a qualifier, and says nothing of the unit."""
    if left.site is None or right.site is None or not left.site.is_same(right.site):
        return False
    shared = (aligned & right.content) - _common_lead(left.text.split(), right.text.split())
    return any(w not in _dictionary() and not _is_mnemonic(w) for w in shared)


def _common_lead(left: list[str], right: list[str]) -> frozenset[str]:
    """The words both names start with (a facility's or an agency's name)."""
    lead = []
    for a, b in zip(left, right, strict=False):
        if a != b:
            break
        lead.append(a)
    return frozenset(lead)


_HOUSE_NUMBER = re.compile(r"\s*(\d{1,6})\b")


def _address_numbers(street: str, numbers: frozenset[int]) -> frozenset[int]:
    """The numbers of a name that are its address's: the house number ("Robertson Center -
    Ogden 3701" at 3701 W Ogden Ave) and, in a name that repeats its whole address, the
    street's ("Whiz Kids Nursery 518 W 103 Rd St" at 518 W 103rd St)."""
    house = _HOUSE_NUMBER.match(street)
    if house is None or int(house.group(1)) not in numbers:
        return frozenset()
    street_numbers = re.findall(r"\d+", parse_address_line(street).name)
    return frozenset({int(house.group(1)), *(int(n) for n in street_numbers)})


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
