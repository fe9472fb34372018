"""Errors that carry their HTTP status and a stable code, and the one envelope that renders them."""

from __future__ import annotations

from typing import Any, ClassVar


class LoyaltyError(Exception):
    """Base of every error the API reports: `{"error": {"code", "message", "details"}}`."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(LoyaltyError):
    status_code = 400
    code = "bad_request"


class MalformedJson(BadRequest):
    code = "malformed_json"


class Unauthorized(LoyaltyError):
    status_code = 401
    code = "unauthorized"


class Forbidden(LoyaltyError):
    status_code = 403
    code = "forbidden"


class NotFound(LoyaltyError):
    status_code = 404
    code = "not_found"


class Conflict(LoyaltyError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(LoyaltyError):
    status_code = 413
    code = "payload_too_large"


class ValidationFailed(LoyaltyError):
    """422: each problem in `details` as `{"path", "message", "type"}`."""

    status_code = 422
    code = "validation_failed"


class ServiceUnavailable(LoyaltyError):
    status_code = 503
    code = "service_unavailable"


def problem(path: str, message: str, type_: str = "invalid") -> dict[str, str]:
    """One validation problem at a JSON path (`$.events[3].customer_id`)."""
    return {"path": path, "message": message, "type": type_}


def json_path(location: tuple[int | str, ...] | list[int | str]) -> str:
    """Render a pydantic/FastAPI error location as a JSON path: `$.events[3].occurred_at`."""
    path = "$"
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}"
    return path
