"""The rewards catalog: items bought with points (account credit, a trait such as early access,
a custom reward fulfilled by webhook), available per segment or tier, with stock and
per-customer limits; a redemption spends the points and fulfils in the same transaction."""
