"""Authentication and authorization errors."""

from loyalty_engine.errors import Conflict, Forbidden, NotFound, Unauthorized


class MissingCredentials(Unauthorized):
    code = "missing_credentials"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class NotPermitted(Forbidden):
    code = "forbidden"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


class ApiKeyAlreadyRevoked(Conflict):
    code = "api_key_revoked"
