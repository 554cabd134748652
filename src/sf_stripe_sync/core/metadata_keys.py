"""The metadata keys the engine writes on Stripe objects: their one home.

Theory of operation: the engine leads every Stripe object it makes back to Salesforce
and to its own plan through metadata. The pure core must know these keys (it builds a
plan's metadata, compares items by their OrderItem ids and refuses a configured key that
would clash with one of them, ``limits.metadata_key_problems``), so they are defined
here and nowhere else; ``stripe/`` imports them to write and read them, and the engine
modules never name them (they ask ``RemoteSchedule.contract_key`` / ``fingerprint``).
Keys only the Stripe adapter uses (a coupon's slot, a custom price's marks) live in
``stripe/``. ``freeze_metadata`` gives any metadata Stripe's shape (string
keys and values, no empty values).
"""

from __future__ import annotations

from collections.abc import Mapping

META_ORDER_ID = "salesforce_order_id"
META_CONTRACT_ID = "salesforce_contract_id"
META_ACCOUNT_ID = "salesforce_account_id"
META_CONTRACT_KEY = "salesforce_contract_key"
"""Finds a contract's schedule among the customer's (the guard before a create)."""
META_FINGERPRINT = "sf_sync_fingerprint"
"""The fingerprint of the plan last applied to a schedule."""
META_ORDER_ITEM_IDS = "salesforce_order_item_id"
"""The OrderItem ids a phase item bills (spilling into ``_2``, ``_3``... when long)."""
META_PRICEBOOK_ENTRY_ID = "salesforce_pricebook_entry_id"
"""The PricebookEntry a Stripe price was made for (the sync's custom prices, the catalog)."""
META_CUSTOM_PRICE = "salesforce_custom_price"
"""Marks a price the sync made for a line no catalog price bills (the catalog leaves it)."""

ENGINE_METADATA_KEYS = (
    META_ORDER_ID, META_CONTRACT_ID, META_ACCOUNT_ID, META_CONTRACT_KEY, META_FINGERPRINT,
    META_ORDER_ITEM_IDS,
)
"""Keys the engine itself writes on schedules, phases and items (never configurable)."""
CONTRACT_METADATA_KEYS = (META_CONTRACT_ID, META_ACCOUNT_ID)
"""The part of a plan's metadata every order of a contract shares."""


def freeze_metadata(values: Mapping[str, object]) -> dict[str, str]:
    """Stripe metadata: string keys and values, empty values left out."""
    return {str(k): str(v) for k, v in values.items() if v is not None and v != ""}
