"""Standardization: raw canonical attributes -> typed, cleaned values, findings and match keys."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from matchers import (
    check_identifier,
    flagged_form,
    flagged_key,
    is_flagged_key,
    is_junk,
    normalize_country,
    normalize_email,
    normalize_phone,
    normalize_postal_code,
    normalize_uom,
    parse_pack,
)
from mdm.codes import EMPTY_CODEBOOK, CodeBook
from mdm.errors import InvalidAttributeError
from mdm.screening import (
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    MAX_TEXT_LENGTH,
    SOURCE_ID_LENGTH,
    SYSTEM_LENGTH,
    escape_text,
    is_safe_number,
    nesting_depth,
    storable,
    storable_text,
    text_problem,
)
from mdm.specs import Attribute, AttributeKind, EntitySpec, Standardizer

_TRUE = {"Y", "YES", "TRUE", "T", "1"}
_FALSE = {"N", "NO", "FALSE", "F", "0"}
_CURRENCY = re.compile(r"^\s*[A-Za-z]{3}\b|\b[A-Za-z]{3}\s*$|[€£¥]")


@dataclass(frozen=True)
class Finding:
    """A data-quality finding on a source record: kept, shown, never silently fixed."""

    attribute: str | None  # None: about the record as a whole
    code: str  # e.g. BAD_CHECK_DIGIT, JUNK_VALUE, UNMAPPED_VALUE, OUT_OF_RANGE, TOO_LONG
    message: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "code": self.code,
            "message": self.message,
            "value": self.value,
        }


@dataclass(frozen=True)
class Standardized:
    values: dict[str, Any]
    findings: tuple[Finding, ...]


def standardize(
    spec: EntitySpec,
    attributes: Mapping[str, Any],
    *,
    system: str = "",
    date_format: str | None = None,
    codes: CodeBook = EMPTY_CODEBOOK,
) -> Standardized:
    """Type and clean a record's canonical attributes.

    Wrong types, unknown attributes and values nested deeper than ``MAX_DEPTH`` levels
    raise (the record is refused); invalid identifiers, unmapped coded values and values
    no column can hold are kept out of ``values`` and reported as findings (the record
    still lands, but they never match): text with a NUL byte or a lone surrogate
    (``BAD_CHARACTERS``), text over ``MAX_TEXT_LENGTH`` characters or a reference whose
    id does not fit its column (``TOO_LONG``), a number beyond ±``MAX_SAFE_INTEGER`` or not
    finite (``OUT_OF_RANGE``); a finding's value is stored escaped (``mdm.screening``).

    A reference is the referenced record's source id in ``system``, or
    ``{"system": ..., "source_id": ...}`` for another system; it is stored as that pair
    either way. A coded attribute whose code set is loaded in ``codes`` is transcoded to
    the canonical code; a value with no transcoding is kept as written and reported as an
    ``UNMAPPED_VALUE`` finding.

    Raises:
        InvalidAttributeError: unknown attribute, a value of the wrong type, or nested too
            deep.
    """
    values: dict[str, Any] = {}
    findings: list[Finding] = []
    for name, raw in attributes.items():
        attribute = spec.attribute(name)
        if attribute is None:
            raise InvalidAttributeError(
                f"{spec.name} has no attribute {name[:100]!r}",
                field=f"attributes.{escape_text(name[:100])}",
            )
        if isinstance(raw, Mapping | list) and nesting_depth(raw) > MAX_DEPTH:
            raise InvalidAttributeError(
                f"attributes.{name} nests deeper than {MAX_DEPTH} levels",
                field=f"attributes.{name}",
            )
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if attribute.kind is AttributeKind.REFERENCE:
            value = _reference(attribute.name, raw, system, findings)
        else:
            try:
                value = _standardize_value(attribute, raw, findings, date_format, system, codes)
            except InvalidAttributeError as error:
                # One malformed value never costs the record: the attribute is flagged and
                # left out, the rest lands (a wrong name or a reference still refuses it).
                shown = storable_text(str(storable(raw)[0]), 200)
                findings.append(Finding(name, "INVALID_VALUE", error.message, shown))
                continue
        if value is not None:
            values[name] = value
        elif attribute.kind is AttributeKind.IDENTIFIER:
            _keep_flagged(attribute, raw, findings, values)
    return Standardized(values, tuple(findings))


# Why an identifier was left out for which its cleaned form still tells records apart: it
# failed a check, not a placeholder (``JUNK_VALUE``) nor a value no column can hold.
_NOT_KEPT = frozenset({"EMPTY", "JUNK_VALUE", "BAD_CHARACTERS", "TOO_LONG", "INVALID_VALUE"})


def _keep_flagged(
    attribute: Attribute, raw: Any, findings: list[Finding], values: dict[str, Any]
) -> None:
    """Keep an identifier that failed its check (a sole proprietor's SSN as a tax id, a
    foreign or malformed id) under ``flagged_key``: never a key and never shown as the
    attribute's value, but evidence for matching (``IdentifierComparison``)."""
    finding = next((f for f in reversed(findings) if f.attribute == attribute.name), None)
    if finding is None or finding.code in _NOT_KEPT or isinstance(raw, Mapping | list):
        return
    cleaned = flagged_form(str(raw))
    if cleaned is not None:
        values[flagged_key(attribute.name)] = cleaned


def public_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Standardized values as shown and survived: the attributes, without the flagged
    identifiers kept for matching (``flagged_key``)."""
    return {k: v for k, v in values.items() if not is_flagged_key(k)}


def _standardize_value(
    attribute: Attribute,
    raw: Any,
    findings: list[Finding],
    date_format: str | None,
    system: str,
    codes: CodeBook,
) -> Any:
    field = f"attributes.{attribute.name}"
    kind = attribute.kind
    if kind is AttributeKind.BOOLEAN:
        return _to_bool(raw, field)
    if kind is AttributeKind.INTEGER or kind is AttributeKind.NUMBER:
        number = (
            raw  # NaN, Infinity: flagged below, as "not an integer" would refuse the record
            if isinstance(raw, float) and not math.isfinite(raw)
            else _to_int(raw, field)
            if kind is AttributeKind.INTEGER
            else _to_number(raw, field)
        )
        if is_safe_number(number):
            currency = _currency_of(raw) if kind is AttributeKind.NUMBER else None
            if currency is not None:
                findings.append(
                    Finding(
                        attribute.name,
                        "CURRENCY_LEFT_OUT",
                        f"{field}: the amount {number:g} of {storable_text(str(raw), 100)!r} "
                        f"is kept; its currency {currency} is not (amounts are compared as "
                        "written)",
                        storable_text(str(raw), 100),
                    )
                )
            return number
        shown = storable_text(str(storable(raw)[0]), 100)
        findings.append(
            Finding(
                attribute.name,
                "OUT_OF_RANGE",
                f"{field}: {shown} is not a finite number within ±{MAX_SAFE_INTEGER:,}",
                shown,
            )
        )
        return None
    if kind is AttributeKind.DATE:
        return _to_date(raw, field, date_format)
    if isinstance(raw, dict | list):
        raise InvalidAttributeError(
            f"{attribute.name} must be a single value, got {type(raw).__name__}", field=field
        )
    text = " ".join(str(raw).split())
    if _is_unstorable(attribute.name, text, findings):
        return None
    if kind is AttributeKind.IDENTIFIER:
        assert attribute.identifier is not None
        check = check_identifier(attribute.identifier, text)
        if check.is_valid:
            return check.normalized
        findings.append(
            Finding(
                attribute.name,
                check.problem or "INVALID_IDENTIFIER",
                check.detail or f"invalid {attribute.identifier}",
                text,
            )
        )
        return None
    if is_junk(text):
        findings.append(Finding(attribute.name, "JUNK_VALUE", f"{text!r} is a placeholder", text))
        return None
    if kind is AttributeKind.CODE:
        if attribute.code_set is not None and codes.has(attribute.code_set):
            return _transcode(attribute, attribute.code_set, text, findings, system, codes)
        return _standardize_code(attribute, text, findings)
    return text


def _is_unstorable(name: str, text: str, findings: list[Finding]) -> bool:
    """Flag text no column can hold (NUL, lone surrogate) or too long to match on."""
    problem = text_problem(text)
    if problem is not None:
        message = f"attributes.{name} contains {problem}: not kept"
        findings.append(Finding(name, "BAD_CHARACTERS", message, storable_text(text, 200)))
        return True
    if len(text) > MAX_TEXT_LENGTH:
        message = f"attributes.{name} is {len(text):,} characters long: at most {MAX_TEXT_LENGTH:,}"
        findings.append(Finding(name, "TOO_LONG", message, storable_text(text, 200)))
        return True
    return False


def _reference(name: str, raw: Any, system: str, findings: list[Finding]) -> dict[str, str] | None:
    """``{system, source_id}``, or ``{system, code}`` / ``{system, name}`` for a parent
    given by its code or name (located once stored: ``mdm.locators``)."""
    field = f"attributes.{name}"
    by = "source_id"
    if isinstance(raw, Mapping):
        other = str(raw.get("system") or system).strip()
        given = {
            b: v
            for b, v in (
                ("source_id", raw.get("source_id", raw.get("sourceId"))),
                ("code", raw.get("code")),
                ("name", raw.get("name")),
            )
            if v is not None
        }
        if not other or len(given) != 1 or isinstance(next(iter(given.values())), Mapping | list):
            raise InvalidAttributeError(
                f"{field}: a reference object needs system and one of source_id, code, name",
                field=field,
            )
        (by, value), *_ = given.items()
        text = " ".join(str(value).split())
    elif isinstance(raw, list | bool):
        raise InvalidAttributeError(f"{field}: a reference is a source id", field=field)
    else:
        other, text = system, " ".join(str(raw).split())
    if not text:
        return None
    # A reference is looked up by (system, source id): both must be able to exist.
    for part, value, limit in (
        ("system", other, SYSTEM_LENGTH),
        (by.replace("_", " "), text, SOURCE_ID_LENGTH if by == "source_id" else MAX_TEXT_LENGTH),
    ):
        problem = text_problem(value, is_identifier=part != "name")
        if problem is not None or len(value) > limit:
            code = "BAD_CHARACTERS" if problem is not None else "TOO_LONG"
            why = f"contains {problem}" if problem else f"is longer than {limit} characters"
            message = f"{field}: the {part} {why}: not kept"
            findings.append(Finding(name, code, message, storable_text(value, 200)))
            return None
    return {"system": other, by: text}


def _transcode(
    attribute: Attribute,
    code_set: str,
    text: str,
    findings: list[Finding],
    system: str,
    codes: CodeBook,
) -> str:
    code, mapped = codes.transcode(code_set, system, text)
    if not mapped:
        findings.append(
            Finding(
                attribute.name,
                "UNMAPPED_VALUE",
                f"{text!r} from {system or 'this system'} is not a {code_set} code and has "
                "no transcoding",
                text,
            )
        )
    return code


def _standardize_code(attribute: Attribute, text: str, findings: list[Finding]) -> str | None:
    standardizer = attribute.standardizer
    if standardizer is Standardizer.UOM:
        uom = normalize_uom(text)
        if uom is None:
            pack = parse_pack(text)  # "Box of 100": the unit is the pack's
            uom = pack.pack_unit if pack is not None else None
        if uom is None:
            findings.append(
                Finding(attribute.name, "UNMAPPED_VALUE", f"unknown unit of measure {text!r}", text)
            )
            return text.upper()
        return uom
    if standardizer is Standardizer.POSTAL_CODE:
        postal = normalize_postal_code(text)
        if postal is None:
            findings.append(
                Finding(attribute.name, "BAD_FORMAT", f"not a postal code: {text!r}", text)
            )
        return postal
    if standardizer is Standardizer.PHONE:
        phone = normalize_phone(text)
        if phone is None:
            findings.append(
                Finding(attribute.name, "BAD_FORMAT", f"not a phone number: {text!r}", text)
            )
        return phone
    if standardizer is Standardizer.EMAIL:
        email = normalize_email(text)
        if email is None:
            findings.append(
                Finding(attribute.name, "BAD_FORMAT", f"not an e-mail address: {text!r}", text)
            )
        return email
    if standardizer is Standardizer.COUNTRY:
        return _country(attribute, text, findings)
    return text.upper()


def _country(attribute: Attribute, text: str, findings: list[Finding]) -> str:
    """The ISO 3166-1 alpha-2 code of a country as written ("USA", "Deutschland"); a
    spelling no code reads is kept (upper-cased) and flagged, so it is shown, never
    compared (``CountryComparison``)."""
    country = normalize_country(text)
    if country is None:
        findings.append(
            Finding(attribute.name, "UNMAPPED_VALUE", f"unknown country {text!r}", text)
        )
        return text.upper()
    return country


def _to_bool(raw: Any, field: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().upper()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidAttributeError(f"{field}: {raw!r} is not a boolean (Y/N, true/false)", field=field)


def _to_int(raw: Any, field: str) -> int:
    if isinstance(raw, bool):
        raise InvalidAttributeError(f"{field}: expected an integer, got a boolean", field=field)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    try:
        return int(_plain_number(str(raw)))
    except ValueError:
        raise InvalidAttributeError(f"{field}: {raw!r} is not an integer", field=field) from None


def _to_number(raw: Any, field: str) -> float:
    if isinstance(raw, bool):
        raise InvalidAttributeError(f"{field}: expected a number, got a boolean", field=field)
    try:
        if isinstance(raw, int | float):
            return float(raw)
        # An amount written with its currency ("69.71 gbp", "USD 12.00", "£4.50") is the
        # amount (the caller flags the currency left out).
        return float(_plain_number(_CURRENCY.sub("", str(raw))))
    except OverflowError:  # an integer past any float: out of range, flagged by the caller
        return math.inf
    except ValueError:
        raise InvalidAttributeError(f"{field}: {raw!r} is not a number", field=field) from None


_GROUPED = re.compile(r"^[+-]?[1-9]\d{0,2}(,\d{3})+$")  # 1,234 / 12,345,678: US thousands
_GROUPED_DECIMAL = {  # both marks: thousands grouped by one, decimals after the other
    ",": re.compile(r"^[+-]?\d{1,3}(\.\d{3})+,\d+$"),  # 1.234,56
    ".": re.compile(r"^[+-]?\d{1,3}(,\d{3})+\.\d+$"),  # 1,234.56
}


def _plain_number(text: str) -> str:
    """A number as ``float`` reads it, from how systems write amounts: thousands grouped by
    commas, spaces or apostrophes ("1,234.50", "1 234,50", "1'234.50"), a decimal comma
    ("12,5", "1.234,56"). Of "." and "," both present, the last is the decimal mark and the
    other must group by threes; a lone comma groups thousands only as a US amount does
    (``1,234``, ``12,345,678``)."""
    text = re.sub(r"[$\s'\u00a0\u202f]", "", text)
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        if not _GROUPED_DECIMAL[decimal].match(text):
            return text  # "1.2.3,4": not a number (float refuses it)
        grouping = "." if decimal == "," else ","
        text = text.replace(grouping, "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", "") if _GROUPED.match(text) else text.replace(",", ".", 1)
    return text


def _currency_of(raw: Any) -> str | None:
    """The currency written beside an amount ("GBP", "€"), if any."""
    if not isinstance(raw, str):
        return None
    found = _CURRENCY.search(raw)
    return found.group(0).strip().upper() if found else None


def _to_date(raw: Any, field: str, date_format: str | None) -> str:
    text = str(raw).strip()
    formats = [date_format] if date_format and date_format != "iso" else []
    # The mapping's format first, then ISO, then the other spellings real extracts use
    # (month before day, as US systems write it).
    for candidate in formats:
        try:
            return datetime.strptime(text, candidate).date().isoformat()
        except ValueError:
            continue
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        pass
    for candidate in _OTHER_DATE_FORMATS:
        try:
            return datetime.strptime(text, candidate).date().isoformat()
        except ValueError:
            continue
    expected = date_format or "YYYY-MM-DD"
    raise InvalidAttributeError(f"{field}: {raw!r} is not a date ({expected})", field=field)


_OTHER_DATE_FORMATS = (  # month before day first: "03/04/2024" is March 4 (US systems)
    "%m/%d/%Y",
    "%m/%d/%y",
    "%d/%m/%Y",  # 15/03/2024: only where the month-first reading failed
    "%d.%m.%Y",
    "%d %B %Y",
    "%d-%B-%Y",
    "%Y/%m/%d",
    "%Y%m%d",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%m-%d-%Y",
    "%Y-%m-%dT%H:%M:%S",
)


def match_keys(spec: EntitySpec, values: Mapping[str, Any]) -> list[str]:
    """The exact match keys of a standardized record, as ``name:value`` strings."""
    keys = []
    for key in spec.match_keys:
        parts = [values.get(a) for a in key.attributes]
        if all(p not in (None, "") for p in parts):
            keys.append(f"{key.name}:" + "|".join(str(p).upper() for p in parts))
    return keys


BLOCKING_PREFIX = "b:"


def blocking_keys(spec: EntitySpec, values: Mapping[str, Any]) -> list[str]:
    """The blocking keys of a standardized record, as ``b:rule:value`` strings."""
    if spec.matching is None:
        return []
    keys = set()
    for rule, key in spec.matching.blocking:
        for value in key(values):
            if value:
                keys.add(f"{BLOCKING_PREFIX}{rule}:{value}"[:300])
    return sorted(keys)


def record_keys(spec: EntitySpec, values: Mapping[str, Any]) -> list[str]:
    """Every key a record is stored under: exact identifiers, then blocking keys."""
    return match_keys(spec, values) + blocking_keys(spec, values)


def is_comparable(spec: EntitySpec, values: Mapping[str, Any]) -> bool:
    """Whether any compared attribute has a value (a record with none can't be matched)."""
    if spec.matching is None:
        return bool(match_keys(spec, values))
    return any(values.get(a) is not None for c in spec.matching.comparisons for a in c.attributes)


def record_findings(
    spec: EntitySpec, standardized: Standardized, *, is_deleted: bool
) -> list[dict[str, Any]]:
    """A record's data-quality findings, with NOTHING_COMPARABLE when matching has nothing
    to go on (it then becomes a golden record of its own, and says why)."""
    findings = [f.to_dict() for f in standardized.findings]
    if not is_deleted and not is_comparable(spec, standardized.values):
        findings.append(
            Finding(
                None,
                "NOTHING_COMPARABLE",
                "no attribute that matching compares has a usable value",
                None,
            ).to_dict()
        )
    return findings
