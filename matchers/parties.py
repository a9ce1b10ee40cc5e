"""Parties as feeds describe them: e-mail addresses, countries, and a contract's supplier.

A vendor's e-mail and country, and a contract's supplier named by DUNS or by name (beside,
or instead of, a reference to the vendor record), are read here into comparable forms and
compared as levels like any other evidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from matchers.comparisons import MISSING, Comparison, _CodedComparison, _text
from matchers.identifiers import check_identifier
from matchers.text import fold, normalize_organization_name

_DATA = Path(__file__).parent / "data"
_EMAIL = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$"
)
_BRACKETED = re.compile(r"<([^<>]*)>")

# Mailbox providers anyone can sign up with: two vendors' addresses there share a domain
# and nothing else (a corporate domain, by contrast, is the company's own).
FREE_MAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "att.net",
        "comcast.net",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "googlemail.com",
        "hotmail.com",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "sbcglobal.net",
        "verizon.net",
        "yahoo.com",
        "yandex.com",
        "zoho.com",
    }
)


@lru_cache(maxsize=1 << 12)
def normalize_email(value: str) -> str | None:
    """An e-mail address as compared: lower case, without a ``mailto:`` prefix or a display
    name (``"Orders <Orders@Acme.com>"`` is ``orders@acme.com``); None when malformed.

    Example:
        >>> normalize_email(" MAILTO:Orders@ACME-Medical.com ")
        'orders@acme-medical.com'
    """
    text = value.strip()
    bracketed = _BRACKETED.search(text)
    if bracketed is not None:
        text = bracketed.group(1).strip()
    text = text.lower().removeprefix("mailto:").strip()
    return text if len(text) <= 254 and _EMAIL.match(text) else None


def is_free_mail(domain: str) -> bool:
    """Whether an e-mail domain is a public mailbox provider (``FREE_MAIL_DOMAINS``, or a
    country variant of one: ``yahoo.co.uk``, ``hotmail.fr``)."""
    if domain in FREE_MAIL_DOMAINS:
        return True
    label, _, rest = domain.partition(".")
    suffix = rest.split(".")
    # Only a country's suffix after the provider's name ("co.uk", "com.br", "fr"): not
    # a company's "mail.acme.com".
    is_country_suffix = len(suffix[-1]) == 2 and all(len(part) <= 3 for part in suffix)
    return is_country_suffix and label in _FREE_MAIL_NAMES


_FREE_MAIL_NAMES = frozenset(domain.partition(".")[0] for domain in FREE_MAIL_DOMAINS)


@lru_cache(maxsize=1)
def _countries() -> tuple[frozenset[str], dict[str, str]]:
    """ISO 3166-1 alpha-2 codes, and every spelling read (alpha-3, names) -> alpha-2."""
    codes: set[str] = set()
    spellings: dict[str, str] = {}
    for line in (_DATA / "countries.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        alpha2, alpha3, names = line.split("\t")
        codes.add(alpha2)
        for spelling in (alpha3, *names.split("|")):
            for key in _country_keys(spelling):
                spellings.setdefault(key, alpha2)
    return frozenset(codes), spellings


def _country_keys(text: str) -> tuple[str, ...]:
    """How a country's spelling is looked up: folded, and without its spaces (``U.S.A.``)."""
    folded = fold(text)
    return (folded, folded.replace(" ", ""))


def normalize_country(value: str) -> str | None:
    """A country as its ISO 3166-1 alpha-2 code, read from the code, the alpha-3 code or a
    common name (``"USA"``, ``"United States"``, ``"Deutschland"``); None when unknown.

    Example:
        >>> normalize_country("U.S.A."), normalize_country("deu"), normalize_country("ca")
        ('US', 'DE', 'CA')
    """
    codes, spellings = _countries()
    folded = fold(value)
    if folded in codes:
        return folded
    for key in _country_keys(value):
        if key in spellings:
            return spellings[key]
    return None


def is_country_code(value: str) -> bool:
    """Whether ``value`` is an ISO 3166-1 alpha-2 code (as standardized values hold it)."""
    return value in _countries()[0]


class EmailComparison(Comparison[tuple[str, str]]):
    """An organization's e-mail address.

    Levels: ``exact`` (the whole address: moderate evidence, a shared mailbox may serve
    several entities of one group); ``same_domain`` (a domain that is no public mailbox
    provider: the company's own, weak evidence); ``different`` (another address, or two
    addresses at a provider such as gmail.com, which share nothing: about neutral, one
    vendor writes from orders@ and from billing@).
    """

    def __init__(
        self,
        attribute: str = "email",
        *,
        name: str | None = None,
        parameters: Sequence[tuple[float, float]] = ((0.45, 0.005), (0.2, 0.015), (0.35, 0.98)),
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute,)
        self.levels = ("exact", "same_domain", "different")
        self.default_parameters = tuple(parameters)

    def prepare(self, record: Mapping[str, Any]) -> tuple[str, str] | None:
        text = _text(record, self.attributes[0])
        email = normalize_email(text) if text else None
        if email is None:
            return None
        domain = email.rpartition("@")[2]
        return email, "" if is_free_mail(domain) else domain

    def compare(self, left: tuple[str, str], right: tuple[str, str]) -> int:
        if left[0] == right[0]:
            return 0
        if left[1] and left[1] == right[1]:
            return 1
        return 2


class CountryComparison(_CodedComparison[str]):
    """The country of an organization, as ISO 3166-1 alpha-2 codes. A spelling no code
    reads (kept raw and flagged when standardized) is missing: never evidence against.

    Levels: ``exact`` (weak: most vendors of a network share a country); ``different``
    (strong evidence against, not a veto: a remit-to site abroad is rare, not impossible).
    """

    def __init__(
        self,
        attribute: str = "country",
        *,
        name: str | None = None,
        parameters: Sequence[tuple[float, float]] = ((0.99, 0.7), (0.01, 0.3)),
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute,)
        self.levels = ("exact", "different")
        self.default_parameters = tuple(parameters)

    def prepare(self, record: Mapping[str, Any]) -> str | None:
        text = _text(record, self.attributes[0])
        return normalize_country(text) if text else None


_Supplier = tuple[str | None, str | None, str | None]  # resolved vendor, DUNS, name


class SupplierComparison(Comparison[_Supplier]):
    """A contract's supplier as feeds name it: a DUNS number and a name, beside (or instead
    of) a reference to the vendor record.

    When both records' vendor references resolve, the reference is the evidence (its own
    ``ReferenceComparison``) and this comparison is missing: one supplier counts once.
    Otherwise two DUNS numbers decide, else two names, compared as organization names
    (legal form and a leading THE left out).

    Levels: ``duns_exact`` (strong), ``name_exact``, ``name_similar`` (weaker: suppliers'
    names repeat across their divisions), ``duns_different`` (strong evidence against),
    ``different`` (names that differ: weak evidence against, systems name a supplier
    their own way).
    """

    def __init__(
        self,
        duns_attribute: str = "supplier_duns",
        name_attribute: str = "supplier_name",
        reference_attribute: str = "vendor",
        *,
        name: str = "supplier",
        parameters: Sequence[tuple[float, float]] = (
            (0.45, 0.005),
            (0.3, 0.007),
            (0.1, 0.01),
            (0.015, 0.49),
            (0.135, 0.488),
        ),
    ) -> None:
        self.name = name
        self.attributes = (duns_attribute, name_attribute, reference_attribute)
        self.levels = ("duns_exact", "name_exact", "name_similar", "duns_different", "different")
        self.default_parameters = tuple(parameters)

    def prepare(self, record: Mapping[str, Any]) -> _Supplier | None:
        duns_attribute, name_attribute, reference_attribute = self.attributes
        resolved = record.get(reference_attribute)
        vendor = resolved if isinstance(resolved, str) and resolved else None
        text = _text(record, duns_attribute)
        duns = check_identifier("duns", text).normalized if text else None
        written = _text(record, name_attribute)
        supplier = normalize_organization_name(written).legal if written else None
        if duns is None and not supplier:
            return None
        return vendor, duns, supplier or None

    def level(self, left: _Supplier | None, right: _Supplier | None) -> int | None:
        if left is None or right is None:
            return None
        found = self.compare(left, right)
        return None if found == MISSING else found

    def compare(self, left: _Supplier, right: _Supplier) -> int:
        """The level index, or ``MISSING`` where the references decide or nothing pairs."""
        if left[0] is not None and right[0] is not None:
            return MISSING
        if left[1] is not None and right[1] is not None:
            return 0 if left[1] == right[1] else 3
        if left[2] is None or right[2] is None:
            return MISSING
        if left[2] == right[2]:
            return 1
        return 2 if fuzz.token_sort_ratio(left[2], right[2]) >= 90 else 4
