"""Loyalty engine: a self-hosted loyalty and referral program engine for B2B SaaS."""

__version__ = "0.1.0"

__all__ = ["__version__"]
