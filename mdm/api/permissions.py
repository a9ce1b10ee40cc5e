"""Role checks on every query field and mutation."""

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


class IsReader(_RoleRequired):
    role = Role.READER


class IsIntegrator(_RoleRequired):
    role = Role.INTEGRATOR


class IsSteward(_RoleRequired):
    role = Role.STEWARD


class IsAdmin(_RoleRequired):
    role = Role.ADMIN
