"""Each configured Stripe account's one session, and the sync gateways built on it.

Theory of operation: a runtime holds one ``StripeAccounts``. The first time an account
is asked for, its ``session.StripeSession`` is opened (the key resolved then, the
account's bucket built: its configured rate, else Stripe's documented one; on the local
emulator only a configured rate; shared across processes on a PostgreSQL store by
``shared_ratelimit``) and kept for the runtime's life. The sync gateways
(``StripeAccounts`` is the engine's ``gateway_for``: one gateway per account and run,
with the run's caches) and the catalog steps (``session``) of one account all send
through that one session, so they share its pacing, its retry policy
(``settings.retry``) and its error mapping.

An account pointed at the local emulator without a configured key uses
``session.LOCAL_DEMO_KEY`` (the emulator accepts any ``sk_test_`` key).
"""

from __future__ import annotations

import threading

from pydantic import SecretStr

from sf_stripe_sync.config import Settings, StripeAccountSettings, resolve_secret
from sf_stripe_sync.shared_ratelimit import share_if_possible
from sf_stripe_sync.state.store import StateStore
from sf_stripe_sync.stripe.gateway import StripeGateway
from sf_stripe_sync.stripe.retry import RetryPolicy
from sf_stripe_sync.stripe.session import (
    LOCAL_DEMO_KEY,
    StripeSession,
    emulator_limiter,
    limiter_for,
)


class StripeAccounts:
    """The sessions of a runtime's Stripe accounts (opened on first use) and their gateways."""

    def __init__(self, settings: Settings, *, store: StateStore | None = None,
                 retry: RetryPolicy | None = None, emulator: bool = False) -> None:
        self.settings = settings
        self.store = store
        self.retry = retry
        self.emulator = emulator
        self._sessions: dict[str, StripeSession] = {}
        self._lock = threading.Lock()

    def key(self, account: StripeAccountSettings) -> SecretStr:
        """The account's API key (the demo key for the emulator when none is configured)."""
        found = resolve_secret(account.api_key_env, self.settings, required=not self.emulator)
        if found is None:
            return SecretStr(LOCAL_DEMO_KEY)
        return found

    def session(self, account: StripeAccountSettings) -> StripeSession:
        """The account's one session, opened on first use."""
        with self._lock:
            found = self._sessions.get(account.name)
            if found is None:
                found = self._open(account)
                self._sessions[account.name] = found
            return found

    def _open(self, account: StripeAccountSettings) -> StripeSession:
        key = self.key(account)
        bucket = emulator_limiter(account) if self.emulator else limiter_for(account, key)
        limiter = share_if_possible(self.store, bucket, account.name,
                                    account.connected_account)
        return StripeSession.for_account(account, key, retry=self.retry, limiter=limiter)

    def __call__(self, account: StripeAccountSettings) -> StripeGateway:
        """A gateway for one run on the account's session (the engine's ``gateway_for``)."""
        return StripeGateway(self.session(account),
                             proration_behavior=self.settings.rules.proration_behavior)
