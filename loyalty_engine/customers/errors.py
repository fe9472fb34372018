"""Customer errors."""

from loyalty_engine.errors import Conflict, NotFound


class CustomerNotFound(NotFound):
    code = "customer_not_found"

    def __init__(self, external_id: str) -> None:
        super().__init__(
            f"no customer with id {external_id!r}", details={"customer_id": external_id}
        )


# The product's rule: loyalty needs a renewal and the main-features milestone. Only the set_stage
# rule action checks that (it has the facts), so nothing else may move a customer into loyalty.
LOYALTY_BY_RULES_ONLY = (
    "the loyalty stage is reached only through a rule's set_stage action, which checks that "
    "the customer renewed and achieved the main-features milestone"
)


class LoyaltyStageByRulesOnly(Conflict):
    code = "loyalty_stage_by_rules_only"

    def __init__(self, external_id: str) -> None:
        super().__init__(
            LOYALTY_BY_RULES_ONLY,
            details={"customer_id": external_id, "path": "$.lifecycle_stage"},
        )
