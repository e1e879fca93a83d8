"""One error type for every refusal: a machine code, a sentence for a person, field errors.

Services raise it; the API maps it to ``{"code", "message", "errors"}`` and pages show the
message. ``extra`` carries additional keys of the API answer (for example the issuer of a
card whose reserved information does not match).
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        errors: dict[str, list[str]] | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.errors = errors or {}
        if status is not None:
            self.status = status
        self.extra = extra or {}
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "errors": self.errors}
        body.update(self.extra)
        return body


class RateLimited(ServiceError):
    status = 429
