"""``python -m mdm.cli``: the ``mdm`` command line."""

from __future__ import annotations

from mdm.cli import app

app()
