from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("sqlalchemy", "strawberry", "starlette", "mdm")


def test_importing_matchers_loads_no_service_dependency() -> None:
    code = (
        "import sys, matchers\n"
        f"forbidden = {FORBIDDEN!r}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in forbidden)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_public_api_is_declared() -> None:
    import matchers

    assert sorted(matchers.__all__) == sorted(set(matchers.__all__))
    for name in matchers.__all__:
        assert hasattr(matchers, name), name
