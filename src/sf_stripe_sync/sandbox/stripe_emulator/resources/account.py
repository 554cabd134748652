"""``GET /v1/account``: the account a key belongs to, as a preflight reads it.

Theory of operation: the emulator has one platform account plus whatever connected
accounts requests name in ``Stripe-Account``; the answer is a minimal ``account`` object
for the calling partition (id, charges and payouts enabled; every other field the SDK's
``Account`` declares, null), enough for ``sf-stripe-sync check`` to show which account a
key reaches. Stripe's account object has no ``livemode``. Nothing is stored.
"""

from __future__ import annotations

from sf_stripe_sync.sandbox.stripe_emulator.resources.common import Context
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

PLATFORM_ACCOUNT_ID = "acct_emulator"


def retrieve_current(ctx: Context) -> JSON:
    return {
        "id": ctx.account or PLATFORM_ACCOUNT_ID,
        "object": "account",
        "business_profile": None,
        "business_type": None,
        "capabilities": None,
        "charges_enabled": True,
        "company": None,
        "controller": None,
        "country": "US",
        "created": None,
        "default_currency": "usd",
        "details_submitted": True,
        "email": None,
        "external_accounts": None,
        "future_requirements": None,
        "groups": None,
        "individual": None,
        "metadata": {},
        "payouts_enabled": True,
        "requirements": None,
        "settings": None,
        "tos_acceptance": None,
        "type": "standard",
    }
