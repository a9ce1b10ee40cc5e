"""Site names as real feeds write them: an operator's name before the site's, the street
number inside the name; and the unit names that must still stay apart."""

from __future__ import annotations

import numpy as np
import pytest

from matchers import UnitNameComparison

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
    ],
)
def test_site_names(
    left: tuple[str, str | None], right: tuple[str, str | None], expected: str
) -> None:
    assert _level(left, right) == expected
