"""Customer errors."""

from loyalty_engine.errors import NotFound


class CustomerNotFound(NotFound):
    code = "customer_not_found"

    def __init__(self, external_id: str) -> None:
        super().__init__(
            f"no customer with id {external_id!r}", details={"customer_id": external_id}
        )
