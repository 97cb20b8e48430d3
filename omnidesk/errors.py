"""Exceptions whose message a back-office user can read and act on."""


def first_line(exc: BaseException | None, fallback: str) -> str:
    """The first line of an exception's text (drivers append hints and context below it)."""
    text = str(exc).strip() if exc is not None else ""
    return text.splitlines()[0] if text else fallback


class ServiceError(Exception):
    """A use case was refused; the message says why and nothing was changed."""


class NotFound(ServiceError):
    """The record the user asked for does not exist (or is not visible to them)."""


class PermissionDenied(ServiceError):
    """The acting user lacks the permission the use case needs."""


class ConcurrentChange(ServiceError):
    """Someone else changed the record since it was loaded."""


class DatabaseUnavailable(ServiceError):
    """The database could not be reached; nothing was saved."""


class ValidationError(ServiceError):
    """Input was rejected; `errors` maps each bad field to its message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


class SessionEnded(ServiceError):
    """The staff member's signed-in session expired or was ended; they must sign in again."""
