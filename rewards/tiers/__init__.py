"""Tiers: levels a customer qualifies for by points earned in a window or by a trait, with
benefits (an earning multiplier, a renewal discount, perks), upgrades at once and downgrades
only at the end of the window after a grace period."""
