"""The failures a user of the engine can cause, one type each.

Each carries a stable machine-readable ``code``, an English ``message`` and ``details``; the web layer maps the
type to one HTTP status, so nothing here knows about HTTP.
"""

from __future__ import annotations

from typing import Any


class PetitionflowError(Exception):
    """Base of every error a caller can cause and be told about."""

    code = "error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}


class NotFound(PetitionflowError):
    code = "not_found"


class InvalidInput(PetitionflowError):
    """The request itself is malformed (bad variable, unknown option)."""

    code = "invalid_input"


class ValidationFailed(PetitionflowError):
    """A form submission broke its form's rules; details map each field key to its messages."""

    code = "validation_failed"


class DeploymentInvalid(PetitionflowError):
    """A deployment was refused; details['problems'] lists every problem with file, line and element."""

    code = "deployment_invalid"


class Conflict(PetitionflowError):
    """The state changed under the caller: the task was completed, claimed or the instance moved on."""

    code = "conflict"


class Forbidden(PetitionflowError):
    code = "forbidden"


class InvalidState(PetitionflowError):
    """The command does not apply in the instance's current state (suspended, ended)."""

    code = "invalid_state"


class ProcessError(PetitionflowError):
    """The diagram itself failed while running (an expression raised); the instance is left unchanged."""

    code = "process_error"


class FileRefused(PetitionflowError):
    """An upload was refused for what its bytes are (type sniffed from the content, never the name) or its size;
    details name the file, the type found and why."""

    code = "file_refused"
