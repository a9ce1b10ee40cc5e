"""Comparisons of places: street addresses and localities (city and state).

An address says where a site is, not who runs it: a building is shared (the suites of a
medical office building, the restaurants of a hotel), and one organization has several
sites (order-from, remit-to, a lockbox). So an address is parsed into its parts
(``parse_address_line``, USPS Publication 28) and the levels say which parts agree: the
street (house number, name, suffix, directionals) carries the evidence, the unit or
second line only a little, and a street written another way (a missing suffix or
directional, a typo in the name) is a level of its own between ``exact`` and
``different``. A city is weak evidence either way: remit-to sites are often elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler

from matchers.comparisons import (
    MISSING,
    Column,
    Comparison,
    IndexArray,
    LevelArray,
    _factorize,
    _flags,
    _similarity,
    _text,
    encode_fields,
)
from matchers.text import (
    AddressLine,
    normalize_city,
    normalize_phone,
    normalize_postal_code,
    normalize_region,
    parse_address_line,
)

# Jaro-Winkler on the street (name and suffix, spaces removed) at which two streets with
# the same house number are the same street mistyped: "PRIDHAMSTREET" / "PRIDHAM ST",
# "NEWLANDS TREET" / "NEWLAND ST", but not "MAPLE ST" / "MAPLE AVE" (the suffixes differ)
# nor "ELM ST" / "ELK ST" (0.89).
SIMILAR_STREET = 0.9
# fuzz.token_sort_ratio of both lines (all their words, in any order) at which two
# addresses with one house number are the same address written in another order.
SIMILAR_TEXT = 90.0
# Jaro-Winkler on the city, spaces removed: "BURLEI GH HEADS" / "BURLEIGH HEADS",
# "NEW YORK" / "NEW YORK CITY", "SALISBURU EAST" / "SALISBURY EAST".
SIMILAR_CITY = 0.9


@dataclass(frozen=True)
class _Address:
    primary: str  # house number and street, Pub 28 (or "PO BOX 123")
    number: str | None
    name: str
    suffix: str | None
    directionals: tuple[str | None, str | None]
    squeezed: str  # the street's name and suffix, spaces removed
    unit: str | None  # "200" for "STE 200" / "#200"; a free-text second line squeezed
    is_free_unit: bool  # the unit is a free-text line (a building), not a designator
    is_po_box: bool
    text: str  # both lines, Pub 28, street line first


class AddressComparison(Comparison[_Address]):
    """Street address lines (``parse_address_line``, USPS Publication 28 forms).

    The street is read from the first line, or from the second when only the second has
    a house number (a building or attention line first). The unit is a designator's
    number ("STE 200", "RM 200" and "#200" name the same unit) or, for a free-text
    second line (a building or complex name), that line.

    Levels: ``exact`` (same street address and unit, or neither has a unit);
    ``same_street`` (same street address, a unit on one side only, or second lines of
    free text that differ: a building's name mistyped, an attention line); ``other_unit``
    (same street address, two unit numbers: two suites of one building, where the
    companies of one group sit side by side, so the default weight is slightly
    negative); ``similar_street`` (same house number, or one missing, and the same
    street written another way: a missing suffix or directional, a typo in the name);
    ``different`` (another house number or street). A PO box or lockbox against a
    physical address is not compared at all (missing): a remit-to lockbox says nothing
    for or against the supplier's site. A line with no street (a house number alone) is
    missing too.

    The unit never turns a street into ``different``: a suite or second line is often
    left out, mistyped or out of date. A spec whose records are the units themselves
    (locations: two clinics in one building) passes its own ``parameters``, vetoes
    ``other_unit`` and has ``is_free_text_unit_weak=False``: second lines of free text
    that differ ("RADIOLOGY WING" / "EAST TOWER") are ``other_unit`` too.
    """

    def __init__(
        self,
        attribute: str = "address_line1",
        unit_attribute: str | None = "address_line2",
        *,
        name: str | None = None,
        parameters: Sequence[tuple[float, float]] = (
            (0.64, 8e-5),
            (0.12, 3e-5),
            (0.02, 0.03),
            (0.14, 5e-5),
            (0.08, 0.96984),
        ),
        is_free_text_unit_weak: bool = True,
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute,) + ((unit_attribute,) if unit_attribute else ())
        self.levels = ("exact", "same_street", "other_unit", "similar_street", "different")
        self.default_parameters = tuple(parameters)
        self.is_free_text_unit_weak = is_free_text_unit_weak

    def prepare(self, record: Mapping[str, Any]) -> _Address | None:
        lines = [_text(record, a) for a in self.attributes]
        first = parse_address_line(lines[0]) if lines[0] else None
        second = parse_address_line(lines[1]) if len(lines) > 1 and lines[1] else None
        street, other = first, second
        if second is not None and second.number and (first is None or not first.number):
            street, other = second, first
        if street is None or not (street.street or street.is_po_box or other is not None):
            return None  # a house number alone
        text = " ".join(
            p
            for line in (street, other)
            if line is not None
            for p in (line.primary, line.unit)
            if p
        )
        unit, is_free = _unit_of(street, other)
        primary = street.primary
        if not (street.street or street.is_po_box):  # "8" / "HD ALLENBY": both lines say it
            primary, unit, is_free = text, None, False
        return _Address(
            primary,
            street.number,
            street.name,
            street.suffix,
            street.directionals,
            "".join(f"{street.name} {street.suffix or ''}".split()),
            unit,
            is_free,
            street.is_po_box,
            text,
        )

    def level(self, left: _Address | None, right: _Address | None) -> int | None:
        if left is None or right is None or left.is_po_box != right.is_po_box:
            return None
        return self.compare(left, right)

    def compare(self, left: _Address, right: _Address) -> int:
        if left.primary == right.primary:
            return _unit_level(left, right, self.is_free_text_unit_weak)
        if left.number and right.number and left.number != right.number:
            return 4
        return 3 if _is_similar_street(left, right) else 4

    def encode(
        self, left: Sequence[_Address | None], right: Sequence[_Address | None]
    ) -> tuple[Column[_Address], Column[_Address]]:
        getters: dict[str, Callable[[_Address], Hashable]] = {
            "primary": lambda v: v.primary,
            "number": lambda v: v.number,
            "unit": lambda v: v.unit,
        }
        codes = {
            k: _factorize([g(v) if v else None for v in left], [g(v) if v else None for v in right])
            for k, g in getters.items()
        }
        left_codes = {k: c[0] for k, c in codes.items()}
        right_codes = {k: c[1] for k, c in codes.items()}
        left_codes["po_box"] = _flags(left, lambda v: v.is_po_box)
        right_codes["po_box"] = _flags(right, lambda v: v.is_po_box)
        return Column(left, left_codes), Column(right, right_codes)

    def batch_levels(
        self,
        left: Column[_Address],
        right: Column[_Address],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        def pair(key: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
            return left.codes[key][left_index], right.codes[key][right_index]

        primary_l, primary_r = pair("primary")
        number_l, number_r = pair("number")
        unit_l, unit_r = pair("unit")
        po_l, po_r = pair("po_box")
        present = (primary_l != MISSING) & (primary_r != MISSING) & (po_l == po_r)
        same = present & (primary_l == primary_r)
        one_unit = (unit_l == MISSING) != (unit_r == MISSING)
        out = np.full(len(left_index), 4, dtype=np.int8)
        out[same & (unit_l == unit_r)] = 0
        out[same & one_unit] = 1
        conflict = (number_l != MISSING) & (number_r != MISSING) & (number_l != number_r)
        # What codes cannot tell: two different units, and streets without a conflict.
        lf, rf = left.features, right.features
        two_units = same & (unit_l != unit_r) & ~one_unit
        for k in np.flatnonzero(two_units).tolist():
            a, b = lf[int(left_index[k])], rf[int(right_index[k])]
            assert a is not None and b is not None
            out[k] = _unit_level(a, b, self.is_free_text_unit_weak)
        for k in np.flatnonzero(present & ~same & ~conflict).tolist():
            a, b = lf[int(left_index[k])], rf[int(right_index[k])]
            assert a is not None and b is not None
            out[k] = 3 if _is_similar_street(a, b) else 4
        out[~present] = MISSING
        return out


def _unit_of(street: AddressLine, other: AddressLine | None) -> tuple[str | None, bool]:
    """The unit of an address: a designator's number on the street line, else on the
    other line, else the other line itself as free text (a building, a complex)."""
    for line in (street, other):
        if line is not None and line.unit:
            return line.unit.split()[-1].lstrip("#") or None, False
    if other is not None and other.primary:
        return "".join(other.primary.split()), True
    return None, False


def _unit_level(left: _Address, right: _Address, is_free_text_weak: bool) -> int:
    """The level of two addresses on one street, by their units."""
    if left.unit == right.unit:
        return 0
    if left.unit is None or right.unit is None:
        return 1
    if is_free_text_weak and (left.is_free_unit or right.is_free_unit):
        return 1  # a building's or complex's name, an attention line: free text, weak
    return 2


def _is_similar_street(left: _Address, right: _Address) -> bool:
    """Whether two streets (no conflicting house numbers) are one street written two
    ways: no conflicting suffix or directional, and the same name, or names within
    ``SIMILAR_STREET``; or, with the same house number, the same words in another order
    or on the other line (``SIMILAR_TEXT``: "80 CHASELING ST / KINCUMBER VLG" and "80
    KINCUMBER VLG / CHASELING ST")."""
    if left.is_po_box or right.is_po_box:
        return False
    for a, b in zip(left.directionals, right.directionals, strict=True):
        if a and b and a != b:
            return False  # "N MAIN ST" and "S MAIN ST" are two streets
    if (
        left.number is not None
        and left.number == right.number
        and fuzz.token_sort_ratio(left.text, right.text) >= SIMILAR_TEXT
    ):
        return True
    if not left.squeezed or not right.squeezed:
        return False
    if left.suffix and right.suffix and left.suffix != right.suffix:
        return False
    if left.name and left.name == right.name:
        return True
    return JaroWinkler.normalized_similarity(left.squeezed, right.squeezed) >= SIMILAR_STREET


@dataclass(frozen=True)
class _Locality:
    city: str
    squeezed: str
    region: str | None


class LocalityComparison(Comparison[_Locality]):
    """City and state (or province), as weak evidence for or against.

    Cities are compared spelled out (``normalize_city``: "St. Paul" is "SAINT PAUL"),
    states as postal codes where the name is known (``normalize_region``). Levels:
    ``exact`` (same city, and the states agree or one is missing), ``similar`` (the city
    mistyped or written longer: "NEW YORK" / "NEW YORK CITY"), ``other_city``,
    ``other_state`` (both states given and different). Without a city nothing is
    compared. With ``address_attribute``, the city of a PO box or lockbox address is not
    compared either (missing): it is the bank's, as ``PostalCodeComparison`` says of its
    postal code.

    The defaults keep both ways weak: many suppliers of one hospital share its city, and
    one supplier's order-from and remit-to sites are often in different cities.
    """

    def __init__(
        self,
        attribute: str = "city",
        state_attribute: str | None = "state",
        *,
        address_attribute: str | None = None,
        name: str | None = None,
        parameters: Sequence[tuple[float, float]] = (
            (0.80, 0.04),
            (0.06, 0.004),
            (0.09, 0.30),
            (0.05, 0.656),
        ),
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute,) + ((state_attribute,) if state_attribute else ())
        self.levels = ("exact", "similar", "other_city", "other_state")
        self.default_parameters = tuple(parameters)
        self.address_attribute = address_attribute

    def prepare(self, record: Mapping[str, Any]) -> _Locality | None:
        city_text = _text(record, self.attributes[0])
        city = normalize_city(city_text) if city_text else ""
        if not city:
            return None
        region_text = _text(record, self.attributes[1]) if len(self.attributes) > 1 else None
        if self.address_attribute is not None:
            line = _text(record, self.address_attribute)
            if line and parse_address_line(line).is_po_box:
                return None
        region = normalize_region(region_text) if region_text else None
        return _Locality(city, "".join(city.split()), region or None)

    def compare(self, left: _Locality, right: _Locality) -> int:
        if left.region and right.region and left.region != right.region:
            return 3
        if left.city == right.city:
            return 0
        similarity = JaroWinkler.normalized_similarity(left.squeezed, right.squeezed)
        return 1 if similarity >= SIMILAR_CITY else 2

    def encode(
        self, left: Sequence[_Locality | None], right: Sequence[_Locality | None]
    ) -> tuple[Column[_Locality], Column[_Locality]]:
        return encode_fields(left, right, ("city", "region"))

    def batch_levels(
        self,
        left: Column[_Locality],
        right: Column[_Locality],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        city_l, city_r = left.codes["city"][left_index], right.codes["city"][right_index]
        region_l, region_r = left.codes["region"][left_index], right.codes["region"][right_index]
        present = (city_l != MISSING) & (city_r != MISSING)
        other_state = (region_l != MISSING) & (region_r != MISSING) & (region_l != region_r)
        fuzzy = np.flatnonzero(present & ~other_state & (city_l != city_r))
        lf, rf = left.features, right.features
        ls = [lf[i].squeezed for i in left_index[fuzzy].tolist()]
        rs = [rf[j].squeezed for j in right_index[fuzzy].tolist()]
        out = np.zeros(len(left_index), dtype=np.int8)
        similarity = _similarity(ls, rs, JaroWinkler.normalized_similarity)
        out[fuzzy] = np.where(similarity >= SIMILAR_CITY, 1, 2)
        out[other_state] = 3
        out[~present] = MISSING
        return out


def street_name_key(
    line_attribute: str = "address_line1",
    postal_attribute: str = "postal_code",
    *,
    name_length: int = 5,
) -> Callable[[Mapping[str, Any]], set[str]]:
    """The 5-digit postal code with the first letters of the street's name (no house
    number, spaces removed): one street of one postal area meets, whatever its house
    numbers and however its suffix is spelled or glued ("BLAMEYCRESCENT" / "BLAMEY
    CRES"). PO boxes make no key."""

    def keys(record: Mapping[str, Any]) -> set[str]:
        line = _text(record, line_attribute)
        postal_text = _text(record, postal_attribute)
        postal = normalize_postal_code(postal_text) if postal_text else None
        if not line or not postal:
            return set()
        address = parse_address_line(line)
        name = "".join(address.name.split())
        if address.is_po_box or len(name) < 3:
            return set()
        return {f"{postal[:5]}|{name[:name_length]}"}

    return keys


def house_number_key(
    line_attribute: str = "address_line1",
) -> Callable[[Mapping[str, Any]], set[str]]:
    """The house number with the street's name (no directional, no suffix, no postal
    code): one street address meets however it is written ("4000 W Division St" and
    "4000 W. Division"), also where one record has no postal code. PO boxes and lines
    without a house number make no key."""

    def keys(record: Mapping[str, Any]) -> set[str]:
        line = _text(record, line_attribute)
        address = parse_address_line(line) if line else None
        if address is None or address.is_po_box or not address.number or not address.name:
            return set()
        return {f"{address.number}|{''.join(address.name.split())}"}

    return keys


@dataclass(frozen=True)
class _Phone:
    number: str
    address: _Address | None


class SitePhoneComparison(Comparison[_Phone]):
    """A phone number (North American, 10 digits), not counted twice with the address.

    Records at one site share its switchboard: the companies of a group at their
    headquarters, the practices of a medical building, the restaurants of a hotel. Where
    ``address`` already places two records at one street address (any level but
    ``different``), an equal phone says nothing more and is not credited (missing); a
    different phone still counts against.

    Levels: ``exact``, ``different``.
    """

    def __init__(
        self,
        attribute: str = "phone",
        address: AddressComparison | None = None,
        *,
        name: str | None = None,
        parameters: Sequence[tuple[float, float]] = ((0.7, 1e-5), (0.3, 1 - 1e-5)),
    ) -> None:
        self.name = name or attribute
        self.address = address or AddressComparison()
        self.attributes = (attribute,)
        self.levels = ("exact", "different")
        self.default_parameters = tuple(parameters)

    def prepare(self, record: Mapping[str, Any]) -> _Phone | None:
        text = _text(record, self.attributes[0])
        number = normalize_phone(text) if text else None
        return _Phone(number, self.address.prepare(record)) if number else None

    def level(self, left: _Phone | None, right: _Phone | None) -> int | None:
        if left is None or right is None:
            return None
        if left.number != right.number:
            return 1
        found = self.address.level(left.address, right.address)
        return None if found is not None and found < _DIFFERENT_STREET else 0

    def compare(self, left: _Phone, right: _Phone) -> int:
        return 0 if left.number == right.number else 1

    def encode(
        self, left: Sequence[_Phone | None], right: Sequence[_Phone | None]
    ) -> tuple[Column[_Phone], Column[_Phone]]:
        left_codes: dict[str, Any] = {}
        right_codes: dict[str, Any] = {}
        left_codes["number"], right_codes["number"] = _factorize(
            [v.number if v else None for v in left], [v.number if v else None for v in right]
        )
        address_left, address_right = self.address.encode(
            [v.address if v else None for v in left], [v.address if v else None for v in right]
        )
        left_codes.update({f"address.{k}": c for k, c in address_left.codes.items()})
        right_codes.update({f"address.{k}": c for k, c in address_right.codes.items()})
        return Column(left, left_codes), Column(right, right_codes)

    def batch_levels(
        self,
        left: Column[_Phone],
        right: Column[_Phone],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        number_l, number_r = left.codes["number"][left_index], right.codes["number"][right_index]
        out = np.where(number_l == number_r, 0, 1).astype(np.int8)
        same = np.flatnonzero((out == 0) & (number_l != MISSING))
        if len(same):

            def column(side: Column[_Phone]) -> Column[_Address]:
                addresses = [v.address if v else None for v in side.features]
                codes = {k[8:]: c for k, c in side.codes.items() if k.startswith("address.")}
                return Column(addresses, codes)

            found = self.address.batch_levels(
                column(left), column(right), left_index[same], right_index[same]
            )
            out[same[(found != MISSING) & (found < _DIFFERENT_STREET)]] = MISSING
        out[(number_l == MISSING) | (number_r == MISSING)] = MISSING
        return out


_DIFFERENT_STREET = 4  # ``AddressComparison``'s "different": the levels below are one site
