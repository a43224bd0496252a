"""Domain errors shared by every server layer; ``server.api.errors`` maps them to gRPC.

Hierarchy::

    AssayError
    ├── InvalidArgument      a request field is wrong (carries field violations)
    ├── NotFound             an id names nothing
    ├── AlreadyExists        a create collides with an existing object
    ├── Aborted              a concurrent change won (a conflict); retrying may succeed
    ├── FailedPrecondition   the operation is not valid in the object's current state
    ├── Unauthenticated      the caller presented no credentials, or none that hold
    ├── PermissionDenied     the caller may not do this, or a dependency (the cluster)
    │                        refused the server the operation
    ├── ResourceExhausted    a request went past a limit (an upload's size)
    └── Unavailable          a dependency (storage, the cluster) cannot be used right now

Layers raise these (never gRPC errors) so that execution and storage stay free of the
transport; the API edge translates them in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldViolation:
    """One offending request field, named by its proto path (e.g. ``limit``)."""

    field: str
    description: str


class AssayError(Exception):
    """Base of every domain error.

    Picklable whatever a subclass's ``__init__`` takes (the results writer process sends
    the errors of its writes back to the server): rebuilt from its args and attributes,
    without calling ``__init__`` again.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[AssayError], args: tuple[Any, ...], state: dict[str, Any]) -> AssayError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class InvalidArgument(AssayError):
    def __init__(self, violations: list[FieldViolation] | FieldViolation) -> None:
        self.violations = [violations] if isinstance(violations, FieldViolation) else violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in self.violations))


class NotFound(AssayError):
    def __init__(self, kind: str, ident: str, *, message: str = "") -> None:
        """``message`` replaces the default text, e.g. with the wording of the API server."""
        self.kind = kind
        self.ident = ident
        super().__init__(message or f"{kind} {ident!r} not found")


class AlreadyExists(AssayError):
    pass


class Aborted(AssayError):
    pass


class FailedPrecondition(AssayError):
    pass


class Unauthenticated(AssayError):
    """Never says why beyond "missing" or "not valid": no token or user in the text."""


class PermissionDenied(AssayError):
    pass


class ResourceExhausted(AssayError):
    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        """``retry_after_s``: when trying again may succeed (a busy server), if ever."""
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(AssayError):
    pass
