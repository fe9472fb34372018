"""Catalog errors."""

from __future__ import annotations

from loyalty_engine.errors import Conflict, NotFound


class RewardNotFound(NotFound):
    code = "reward_not_found"


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"


class RewardKeyTaken(Conflict):
    code = "reward_key_taken"


class RewardUnavailable(Conflict):
    code = "reward_unavailable"


class NothingToRetry(Conflict):
    code = "nothing_to_retry"


class CreditAlreadyUsed(Conflict):
    code = "credit_already_used"


class UpgradeInFlight(Conflict):
    code = "upgrade_in_flight"
