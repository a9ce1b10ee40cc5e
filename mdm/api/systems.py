"""GraphQL for source systems: ``sourceSystems`` and ``registerSourceSystem``.

``SystemQuery`` and ``SystemMutation`` are meant as base classes of the schema's ``Query``
and ``Mutation`` types.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from mdm.api.errors import InvalidInputError, error_code
from mdm.api.permissions import IsAdmin, IsReader
from mdm.errors import MdmError
from mdm.systems import list_systems, register_system


@strawberry.type
class SourceSystemType:
    code: str
    name: str
    has_mapping: bool


@strawberry.type
class RegisterSourceSystemSuccess:
    system: SourceSystemType


RegisterSourceSystemResult = Annotated[
    RegisterSourceSystemSuccess | InvalidInputError,
    strawberry.union("RegisterSourceSystemResult"),
]


@strawberry.type
class SystemQuery:
    @strawberry.field(permission_classes=[IsReader])
    def source_systems(self, info: Info) -> list[SourceSystemType]:
        with info.context.hub.database.read_session() as session:
            return [
                SourceSystemType(code=s.code, name=s.name, has_mapping=bool(s.mapping))
                for s in list_systems(session)
            ]


@strawberry.type
class SystemMutation:
    @strawberry.mutation(permission_classes=[IsAdmin], description="Register a source system.")
    def register_source_system(
        self, info: Info, code: str, name: str
    ) -> RegisterSourceSystemResult:
        try:
            with info.context.hub.database.session() as session:
                system = register_system(session, code, name)
                result = SourceSystemType(
                    code=system.code, name=system.name, has_mapping=bool(system.mapping)
                )
        except MdmError as error:
            return InvalidInputError(
                code=error_code(error), message=error.message, field=error.field
            )
        return RegisterSourceSystemSuccess(system=result)
