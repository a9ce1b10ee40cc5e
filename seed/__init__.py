"""Deterministic sample data for the MDM hub: the fictional Hope Health Network.

In the repository this is the ``seed/`` folder; the wheel installs it as ``mdm._seed``
(with the checked-in data set in ``data/``), which is where ``mdm seed generate`` and
``mdm demo`` find it.
"""

from __future__ import annotations

from pathlib import Path

from .dataset import MAX_RECORDS, RECORDS_PER_SCALE, check_scale, generate, scale_for

DATA_DIR = Path(__file__).resolve().parent / "data"
"""The checked-in data set (scale 1, seed 20261126) that ``mdm demo`` loads."""

__all__ = ["DATA_DIR", "MAX_RECORDS", "RECORDS_PER_SCALE", "check_scale", "generate", "scale_for"]
