"""``GET /v1/account``: the account a key belongs to, as a preflight reads it.

Theory of operation: the emulator has one platform account plus whatever connected
accounts requests name in ``Stripe-Account``; the answer is a minimal ``account`` object
for the calling partition (id, livemode false, charges and payouts enabled), enough
for ``sf-stripe-sync check`` to show which account a key reaches. Nothing is stored.
"""

from __future__ import annotations

from sf_stripe_sync.sandbox.stripe_emulator.resources.common import Context
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

PLATFORM_ACCOUNT_ID = "acct_emulator"


def retrieve_current(ctx: Context) -> JSON:
    return {
        "id": ctx.account or PLATFORM_ACCOUNT_ID,
        "object": "account",
        "livemode": False,
        "charges_enabled": True,
        "payouts_enabled": True,
        "country": "US",
        "default_currency": "usd",
        "type": "standard",
    }
