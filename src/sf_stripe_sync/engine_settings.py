"""The few settings the sync engine reads, built from ``Settings`` at the edge.

Theory of operation (dlt's per-stage configuration): ``Settings`` holds everything the
tool can be configured with (the Salesforce login, the catalog, the portal, the trigger
server, the queue...). The engine and the stages it builds read only what is here:
``EngineSettings.of(settings)`` is called where the engine is made (``runtime``, the
preview commands), so a section the engine does not read cannot reach it, and a test
states the few values it cares about. Each stage's share is a ``Protocol`` (what reading
pages, planning and sizing the worker pool read): ``EngineSettings`` and the whole
``Settings`` both satisfy them, so the queue's intake reads pages with its ``Settings``
unchanged. The executor reads no settings: what a plan sends travels in the plan
(``OrderPlan.invoice_now`` / ``prorate`` for a cancel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sf_stripe_sync.config import Settings, StripeAccountSettings, find_stripe_account
from sf_stripe_sync.core.rules import FieldMap, SyncRules


class ReadingSettings(Protocol):
    """What ``reading.OrderReader`` reads."""

    @property
    def fields(self) -> FieldMap: ...
    @property
    def rules(self) -> SyncRules: ...
    @property
    def page_size(self) -> int: ...
    @property
    def watermark_overlap_seconds(self) -> int: ...


class PlanningSettings(Protocol):
    """What ``planning.Planner`` reads."""

    @property
    def rules(self) -> SyncRules: ...
    def stripe_account(self, name: str | None) -> StripeAccountSettings: ...


class PoolSettings(Protocol):
    """What ``concurrency.AdaptiveLimit.for_gateways`` reads: the bounds of the pool."""

    @property
    def concurrency(self) -> int: ...
    @property
    def concurrency_max(self) -> int: ...


@dataclass(frozen=True)
class EngineSettings:
    """What ``engine.Engine`` and its stages read; see ``Settings`` for each field."""

    fields: FieldMap
    rules: SyncRules
    stripe_accounts: tuple[StripeAccountSettings, ...]
    default_stripe_account: str
    lease_ttl_seconds: float
    page_size: int
    watermark_overlap_seconds: int
    concurrency: int
    concurrency_max: int
    pages_ahead: int
    writeback_flush_records: int

    @classmethod
    def of(cls, settings: Settings) -> EngineSettings:
        return cls(
            fields=settings.fields, rules=settings.rules,
            stripe_accounts=settings.stripe_accounts,
            default_stripe_account=settings.default_stripe_account,
            lease_ttl_seconds=settings.state.lease_ttl_seconds,
            page_size=settings.page_size,
            watermark_overlap_seconds=settings.watermark_overlap_seconds,
            concurrency=settings.concurrency, concurrency_max=settings.concurrency_max,
            pages_ahead=settings.pages_ahead,
            writeback_flush_records=settings.writeback_flush_records,
        )

    def stripe_account(self, name: str | None) -> StripeAccountSettings:
        """The named Stripe account (None: the default one); unknown: ``ConfigError``."""
        return find_stripe_account(self.stripe_accounts, name or self.default_stripe_account)
