"""The hub's error hierarchy. Every expected failure is one of these, with a stable code.

::

    MdmError                      code            meaning
    ├── InvalidInputError         INVALID_INPUT   bad input; ``field`` names the culprit
    │   ├── UnknownSystemError    UNKNOWN_SYSTEM
    │   ├── UnknownEntityTypeError UNKNOWN_ENTITY_TYPE
    │   ├── MissingSourceIdError  MISSING_SOURCE_ID
    │   ├── InvalidAttributeError INVALID_ATTRIBUTE
    │   ├── BatchTooLargeError    BATCH_TOO_LARGE
    │   ├── MappingError          INVALID_MAPPING  (a mapping file is wrong; names file and key)
    │   ├── InvalidReferenceDataError INVALID_REFERENCE_DATA  (code sets, transcodings)
    │   ├── InvalidCursorError    INVALID_CURSOR  (a change-stream cursor that is not one)
    │   ├── InvalidPositionError  INVALID_POSITION (negative, or beyond a 64-bit sequence)
    │   ├── CursorBeyondHeadError CURSOR_BEYOND_HEAD  (after an event not yet written)
    │   └── PositionBeyondHeadError POSITION_BEYOND_HEAD (acknowledging an unwritten event)
    ├── NotFoundError             NOT_FOUND
    │   └── UnknownConsumerError  UNKNOWN_CONSUMER
    ├── ConflictError             CONFLICT        (stale version, concurrent change)
    │   ├── AlreadyDecidedError   ALREADY_DECIDED (a proposal a steward already decided)
    │   └── ConsumerExistsError   CONSUMER_EXISTS (the name is another principal's consumer)
    ├── UnauthenticatedError      UNAUTHENTICATED
    ├── ForbiddenError            FORBIDDEN
    ├── UnavailableError          UNAVAILABLE     (a service the hub needs, e.g. NATS, is down)
    ├── CursorExpiredError        CURSOR_EXPIRED  (the events after it were pruned: resync)
    └── ConsumerTooSlowError      CONSUMER_TOO_SLOW (a subscriber fell a buffer behind: resume)

Anything else reaching the API is unexpected: it is logged with a request id and shown to
clients as "Unexpected error." with code ``INTERNAL``.
"""

from __future__ import annotations


class MdmError(Exception):
    """Base of every expected error; ``code`` is stable and part of the API contract."""

    code: str = "MDM_ERROR"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class InvalidInputError(MdmError):
    code = "INVALID_INPUT"


class UnknownSystemError(InvalidInputError):
    code = "UNKNOWN_SYSTEM"


class UnknownEntityTypeError(InvalidInputError):
    code = "UNKNOWN_ENTITY_TYPE"


class MissingSourceIdError(InvalidInputError):
    code = "MISSING_SOURCE_ID"


class InvalidAttributeError(InvalidInputError):
    code = "INVALID_ATTRIBUTE"


class BatchTooLargeError(InvalidInputError):
    code = "BATCH_TOO_LARGE"


class MappingError(InvalidInputError):
    code = "INVALID_MAPPING"


class NotFoundError(MdmError):
    code = "NOT_FOUND"


class ConflictError(MdmError):
    code = "CONFLICT"


class UnauthenticatedError(MdmError):
    code = "UNAUTHENTICATED"


class ForbiddenError(MdmError):
    code = "FORBIDDEN"


class InvalidReferenceDataError(InvalidInputError):
    """Reference data refused; ``problems`` lists every problem found (file:line: … value)."""

    code = "INVALID_REFERENCE_DATA"

    def __init__(
        self, message: str, *, field: str | None = None, problems: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, field=field)
        self.problems = problems or (message,)


class AlreadyDecidedError(ConflictError):
    code = "ALREADY_DECIDED"


class UnavailableError(MdmError):
    code = "UNAVAILABLE"


class InvalidCursorError(InvalidInputError):
    code = "INVALID_CURSOR"


class InvalidPositionError(InvalidInputError):
    code = "INVALID_POSITION"


class CursorBeyondHeadError(InvalidInputError):
    code = "CURSOR_BEYOND_HEAD"


class PositionBeyondHeadError(InvalidInputError):
    code = "POSITION_BEYOND_HEAD"


class UnknownConsumerError(NotFoundError):
    code = "UNKNOWN_CONSUMER"


class ConsumerExistsError(ConflictError):
    code = "CONSUMER_EXISTS"


class CursorExpiredError(MdmError):
    """The events after the cursor were pruned (``MDM_CHANGE_RETENTION_DAYS``): resync from a
    snapshot read after ``changeHead``, then continue from that head."""

    code = "CURSOR_EXPIRED"


class ConsumerTooSlowError(MdmError):
    """A live subscriber fell more than its buffer behind; it resumes from its cursor."""

    code = "CONSUMER_TOO_SLOW"
