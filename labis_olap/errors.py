"""The kinds of failure: a UserError is shown to the user (4xx, exit 1); an InternalError (the
engine failed: EngineError) is ours, not the user's (a 500 with a generic message in the API, the
message and exit 1 in the CLI); anything else is a bug.

Following Cubes' split: a user error carries a type and a message safe to show; any other
exception is logged in full and shown opaquely (an opaque 500 in the API, a short notice in
the CLI).
"""

from __future__ import annotations


class LabisError(Exception):
    """Base of all errors raised on purpose by LabIS: a message and, where one helps, a hint."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class UserError(LabisError):
    """A problem with what the user asked or supplied; the message is safe to show."""

    error_type = "user_error"
    status = 400


class NotFoundError(UserError):
    """A named object (cube, dimension, level, member, measure) does not exist."""

    error_type = "not_found"
    status = 404


class ForbiddenError(UserError):
    """The principal's roles do not grant this (e.g. fact rows without the microdata grant)."""

    error_type = "forbidden"
    status = 403


class QueryError(UserError):
    """A malformed or impossible query: bad cut string, drilling past the last level, …"""

    error_type = "bad_query"


class NotSupportedError(QueryError):
    """A valid request for something LabIS does not do (yet), e.g. Slicer's `split`."""

    error_type = "not_supported"


class QueryTimeoutError(QueryError):
    """A query ran past the server's time limit; a smaller cell or page usually helps."""

    error_type = "query_timeout"


class QueryTooLargeError(QueryError):
    """A query needed more memory than the server allows one query."""

    error_type = "query_too_large"


class StorageDamagedError(UserError):
    """The facts a query needs are damaged on disk (engine/health.py found it): the query is
    refused rather than answered with a wrong number. Not the user's doing, but the message
    (which table, what to do) is safe to show and is what they need, so it is shown."""

    error_type = "storage_damaged"
    status = 503


class UnauthorizedError(UserError):
    """The request carries no credentials, or credentials that do not verify (401). Carries the
    `WWW-Authenticate` challenges the server accepts, so a client knows how to authenticate."""

    error_type = "unauthorized"
    status = 401

    def __init__(self, message: str, *, hint: str | None = None, challenges: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint=hint)
        self.challenges = challenges


class UnavailableError(UserError):
    """Something the request needs is down for now (an identity provider's keys, say): 503."""

    error_type = "unavailable"
    status = 503


class LimitError(QueryError):
    """A request past one of the server's bounds (parts of a cut, queries or cells of a report);
    the message names the bound, so the user knows how far to narrow."""

    error_type = "limit_exceeded"


class QueryCancelledError(QueryError):
    """The request's engine query was stopped because its client went away; nobody reads it."""

    error_type = "query_cancelled"


class ModelError(UserError):
    """The model did not validate; carries every diagnostic found."""

    error_type = "model_error"

    def __init__(self, diagnostics: list[object], rendered: str) -> None:
        super().__init__(f"the model has {len(diagnostics)} problem(s)")
        self.diagnostics = diagnostics
        self.rendered = rendered


class InternalError(LabisError):
    """A failure on LabIS's side that is not the user's doing, raised on purpose with a message
    that names what was being done (not a bug's traceback). Never a UserError: an `except
    UserError` does not catch it."""

    error_type = "internal_error"
    status = 500


class EngineError(InternalError):
    """The engine refused a statement; the message names what was being done. The API answers a
    500 `engine_error` with a generic message (the engine's text, which may quote SQL, is only
    logged); the CLI prints the message and exits 1, as for a user error."""

    error_type = "engine_error"
    status = 500
