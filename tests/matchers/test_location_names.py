"""Site names as real feeds write them: an operator's name before the site's, the street
number inside the name, two names of one site at one street address; and the unit names
that must still stay apart (a facility's units at its address, ICU and CVICU)."""

from __future__ import annotations

import numpy as np
import pytest

from matchers import UnitNameComparison, house_number_key

NAME = UnitNameComparison("name", address_attribute="address_line1")


def _level(left: tuple[str, str | None], right: tuple[str, str | None]) -> str | None:
    a = NAME.prepare({"name": left[0], "address_line1": left[1]})
    b = NAME.prepare({"name": right[0], "address_line1": right[1]})
    found = NAME.level(a, b)
    lc, rc = NAME.encode([a], [b])
    batch = int(NAME.batch_levels(lc, rc, np.array([0]), np.array([0]))[0])
    assert batch == (-1 if found is None else found)
    return None if found is None else NAME.levels[found]


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        # The site's own name within the operator's longer one: weak evidence, no veto.
        (("Higgins", None), ("Chicago Public Schools Higgins C.A., Thomas J.", None), "contained"),
        (("McPherson", None), ("CHICAGO PUBLIC SCHOOLS MCPHERSON, JAMES B.", None), "contained"),
        # The house number in the name is the address's, not a unit number.
        (
            ("Carole Robertson Center For Learning - Ogden 3701", "3701 W Ogden Ave"),
            ("Carole Robertson Center for Learning", "3701 W Ogden Avenue"),
            "similarity_0.95",
        ),
        # Still two units: a kind of unit within another's name, another number, another
        # wing.
        (("Laboratory", None), ("Cardiac Cath Lab", None), "different"),
        (("PEDIATRICS", None), ("PEDIATRICS 2", None), "conflict"),
        (("PAR 1", "3224 PARK DR"), ("PAR 2", "3224 PARK DR"), "conflict"),
        (("2 WEST", None), ("2 EAST", None), "conflict"),
        # A number that is not the house number still tells units apart.
        (("Robertson Center 2020", "3701 W Ogden Ave"), ("Robertson Center", None), "conflict"),
        # A name that repeats its whole address: the street's number is the address's too.
        (
            ("Whiz Kids Nursery Center", "518 W 103rd Street"),
            ("Henry Booth House Whiz Kids Nursery 518 W 103 Rd St", "518 W 103RD ST"),
            "similarity_0.95",
        ),
        (("PEDIATRICS", "100 W 2nd St"), ("PEDIATRICS 2", "100 W 2nd St"), "conflict"),
        # An agency's or a program's name put before the site's, at one street address
        # (however the street is written): the names of one site.
        (
            ("It Takes a Village Child Care Services", "4000 W. Division"),
            ("Easter Seals Society of Metropolitan Chicago - It Takes a Village", "4000 W Div St"),
            "different",  # another street ("DIV")
        ),
        (
            ("It Takes a Village Child Care Services", "4000 W. Division"),
            (
                "Easter Seals Society of Metropolitan Chicago - It Takes a Village",
                "4000 W Division St",
            ),
            "same_site",
        ),
        (
            ("Keeper's Institute Infant/Child Care", "2718 W. 59th St."),
            ("Easter Seals Society of Metropolitan Chicago - The Keeper's Inst.", "2718 W 59th St"),
            "same_site",
        ),
        # ... and not at another house number, nor across the avenue.
        (
            ("It Takes a Village Child Care Services", "4100 W Division St"),
            (
                "Easter Seals Society of Metropolitan Chicago - It Takes a Village",
                "4000 W Division St",
            ),
            "different",
        ),
        (
            ("Keeper's Institute Infant/Child Care", "2718 E 59th St"),
            ("Easter Seals Society of Metropolitan Chicago - The Keeper's Inst.", "2718 W 59th St"),
            "different",
        ),
        (
            ("Ellington", "224 N. Central"),
            ("Duke Ellington Elementary", "224 N Central Ave"),
            "contained",
        ),
        # Units of one facility at its address stay apart: a shared facility name is no
        # site name, and two names of two kinds of unit are two units.
        (("Northgate Lactation", "100 Main St"), ("Northgate Hospice", "100 Main St"), "different"),
        (("Northgate ICU", "100 Main St"), ("Northgate CVICU", "100 Main St"), "different"),
        (("HHN ICU", "100 Main St"), ("HHN CVICU", "100 Main St"), "different"),
        (("ICU", "100 Main St"), ("CVICU", "100 Main St"), "different"),
        (("Central Supply", "100 Main St"), ("Central Sterile Supply", "100 Main St"), "different"),
        (
            ("Northgate Cath Lab", "100 Main St"),
            ("Northgate Emergency Department", "100 Main St"),
            "different",
        ),
        # One unit, named with its facility by one system only.
        (
            ("Northgate ICU", "100 Main St"),
            ("Intensive Care Unit", "100 Main St"),
            "similarity_0.95",
        ),
    ],
)
def test_site_names(
    left: tuple[str, str | None], right: tuple[str, str | None], expected: str
) -> None:
    assert _level(left, right) == expected


@pytest.mark.parametrize(
    ("left", "right", "meets"),
    [
        ("4000 W Division St", "4000 W. Division", True),  # no suffix, no postal code
        ("3801 S Wabash Ave", "3801 Wabash", True),
        ("3801 S Wabash Ave", "3803 S Wabash Ave", False),
        ("PO Box 3801", "PO Box 3801", False),  # a box is no place
    ],
)
def test_one_street_address_meets_however_it_is_written(left: str, right: str, meets: bool) -> None:
    key = house_number_key("address_line1")
    a, b = key({"address_line1": left}), key({"address_line1": right})
    assert bool(a & b) is meets
