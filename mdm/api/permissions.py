"""Role checks on every query field and mutation, and on the fields that carry source ids.

What a reader may see: golden records (ids, typed attributes, status, versions, lineage's
rules and systems), data quality and match-model aggregates, reference data. What ties a
source system's id to a golden record is **crosswalk data** and needs the integrator role
on every path, nested or not: ``sourceId`` wherever it appears next to a golden record,
``sourceRecords``/``sourceRecord`` and their raw values, the ``…Ref`` fields, and the
reference values inside ``attributes`` (left out below integrator).
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from mdm.auth import Role


class _RoleRequired(BasePermission):
    role: Role = Role.READER
    message = "forbidden"
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal is None:
            self.message = "missing Authorization: Bearer <token> header"
            self.error_extensions = {"code": "UNAUTHENTICATED"}
            return False
        if principal.role < self.role:
            self.message = (
                f"{info.field_name} needs the {self.role.name.lower()} role; token "
                f"{principal.name!r} has {principal.role.name.lower()}"
            )
            return False
        return True


def sees_source_ids(info: Info) -> bool:
    """Whether the caller may read crosswalk data (source ids beside golden records)."""
    principal = info.context.principal
    return principal is not None and principal.role >= Role.INTEGRATOR


def is_reference_value(value: Any) -> bool:
    """A stored reference attribute: ``{system, source_id}`` (or, unresolved, ``{system,
    code}`` / ``{system, name}``)."""
    return isinstance(value, dict) and "system" in value


class IsReader(_RoleRequired):
    role = Role.READER


class IsIntegrator(_RoleRequired):
    role = Role.INTEGRATOR


class IsSteward(_RoleRequired):
    role = Role.STEWARD


class IsAdmin(_RoleRequired):
    role = Role.ADMIN
