"""Business errors of the use cases; the shell maps each to one status code (404, 422, 409)."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the errors a client can cause."""

    status = 400

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class NotFound(ServiceError):
    """An id the caller's clinic does not have (whatever its form)."""

    status = 404


class InvalidInput(ServiceError):
    """Input that names a field and what is wrong with it."""

    status = 422

    def __init__(self, field: str, message: str, *, code: str | None = None):
        super().__init__(f"{field}: {message}", code=code, field=field)


class Conflict(ServiceError):
    """A write that conflicts with what is already recorded."""

    status = 409
