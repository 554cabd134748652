"""The engine's narrow settings: built from ``Settings`` at the edge, carrying only what
the engine and its stages read."""

from __future__ import annotations

from dataclasses import fields

import pytest

from sf_stripe_sync.config import Settings, StripeAccountSettings
from sf_stripe_sync.engine_settings import EngineSettings
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.state.settings import StateSettings


def test_the_engine_settings_carry_the_values_the_settings_were_given() -> None:
    settings = Settings(page_size=7, watermark_overlap_seconds=11, concurrency=2,
                        concurrency_max=9, pages_ahead=3, writeback_flush_records=50,
                        state=StateSettings(lease_ttl_seconds=42),
                        stripe_accounts=(StripeAccountSettings(name="eu"),
                                         StripeAccountSettings(name="us")),
                        default_stripe_account="us")
    narrow = EngineSettings.of(settings)
    assert (narrow.page_size, narrow.watermark_overlap_seconds, narrow.concurrency,
            narrow.concurrency_max, narrow.pages_ahead, narrow.writeback_flush_records,
            narrow.lease_ttl_seconds) == (7, 11, 2, 9, 3, 50, 42)
    assert narrow.fields is settings.fields and narrow.rules is settings.rules
    assert narrow.stripe_account(None).name == "us"
    assert narrow.stripe_account("eu").name == "eu"
    with pytest.raises(ConfigError, match="unknown Stripe account 'nope'"):
        narrow.stripe_account("nope")


def test_the_engine_settings_hold_no_section_the_engine_does_not_read() -> None:
    held = {f.name for f in fields(EngineSettings)}
    assert not held & {"salesforce", "catalog", "portal", "serve", "billing_state", "queue",
                       "secrets_file", "retry", "state", "state_dir"}
