"""Renewal discounts per segment and tier: policies, quotes for billing systems, applications
that consume credits, `renewal_upcoming` ahead of each renewal, and the rule action that asks the
billing gateway to discount the next renewal invoice."""
