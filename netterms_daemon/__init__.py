"""netterms: net payment terms for BigCommerce stores, as one daemon."""

from __future__ import annotations

__version__ = "0.1.0"
