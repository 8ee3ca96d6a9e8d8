"""One exception hierarchy for the service layer; the HTTP layer maps it once.

Each error carries its HTTP status, a machine code and a message in English and Chinese,
so the API answers ``{"error": {"code", "message", "message_zh"}}`` and the CLI prints one line.
"""

from __future__ import annotations

from typing import Any


class ShanzhiError(Exception):
    status_code: int = 400
    code: str = "bad_request"

    def __init__(
        self, message: str, message_zh: str, *, code: str | None = None, details: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
        }
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}

    def __str__(self) -> str:
        return f"{self.message_zh} ({self.message})"


class InvalidInput(ShanzhiError):
    status_code = 422
    code = "invalid_input"


class NotFound(ShanzhiError):
    status_code = 404
    code = "not_found"


class Forbidden(ShanzhiError):
    status_code = 403
    code = "forbidden"


class Unauthorized(ShanzhiError):
    status_code = 401
    code = "unauthorized"


class Conflict(ShanzhiError):
    status_code = 409
    code = "conflict"


class TooManyRequests(ShanzhiError):
    status_code = 429
    code = "too_many_requests"


class PayloadTooLarge(ShanzhiError):
    status_code = 413
    code = "too_large"
