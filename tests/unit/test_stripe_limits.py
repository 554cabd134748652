"""Stripe's limits applied before sending: config keys, metadata values, names, date window."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from sf_stripe_sync.config import load_settings
from sf_stripe_sync.core.limits import (
    CUSTOMER_NAME_MAX,
    FEATURE_NAME_MAX,
    METADATA_KEY_MAX,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX,
    TRUNCATION_MARKER,
    fit_text,
)
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.sandbox.stripe_emulator import limits as emulator_limits
from sf_stripe_sync.sandbox.stripe_emulator.limits import tree_for
from sf_stripe_sync.stripe.params import customer_create_params
from tests.unit.test_core_normalize import bundle, codes, run

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, toml: str) -> Path:
    path = tmp_path / "sf-stripe-sync.toml"
    path.write_text(toml, encoding="utf-8")
    return path


def test_a_configured_metadata_key_over_40_characters_is_a_config_error_naming_it(
    tmp_path: Path,
) -> None:
    long_key = "k" * (METADATA_KEY_MAX + 1)
    path = _write(tmp_path, f'[rules.metadata_map]\nDescription = "{long_key}"\n')
    with pytest.raises(ConfigError, match=long_key):
        load_settings(path)


def test_a_40_character_key_is_accepted(tmp_path: Path) -> None:
    key = "k" * METADATA_KEY_MAX
    path = _write(tmp_path, f'[rules.metadata_map]\nDescription = "{key}"\n')
    assert load_settings(path).rules.metadata_map == {"Description": key}


def test_more_keys_than_stripe_leaves_room_for_are_refused(tmp_path: Path) -> None:
    def config(n: int) -> Path:
        lines = "".join(f'Field_{i}__c = "key_{i}"\n' for i in range(n))
        return _write(tmp_path, f"[rules.metadata_map]\n{lines}")

    room = METADATA_MAX_KEYS - 5  # the engine's own keys on a schedule
    assert len(load_settings(config(room)).rules.metadata_map) == room
    with pytest.raises(ConfigError, match="leaves room for 45"):
        load_settings(config(room + 1))


def test_a_key_the_engine_writes_itself_or_with_brackets_is_refused(tmp_path: Path) -> None:
    for key in ("sf_sync_fingerprint", "a[b]"):
        path = _write(tmp_path, f'[rules.metadata_map]\nDescription = "{key}"\n')
        with pytest.raises(ConfigError, match=r"metadata key"):
            load_settings(path)


def test_the_cli_exits_2_naming_the_bad_key(tmp_path: Path) -> None:
    long_key = "x" * 45
    path = _write(tmp_path, f'[rules.metadata_map]\nDescription = "{long_key}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "sf_stripe_sync.cli", "preview", "--config", str(path),
         "--source", str(ROOT / "fixtures" / "demo-org.json")],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert long_key in done.stderr


def test_a_long_mapped_value_is_cut_with_a_marker_by_default() -> None:
    b = bundle(items=[{"Id": "802A", "Description": "d" * 600}])
    order, issues = run(b, metadata_map={"Description": "note"})
    assert codes(issues) == []
    note = order.lines[0].metadata["note"]
    assert len(note) == METADATA_VALUE_MAX and note.endswith(TRUNCATION_MARKER)


def test_a_long_mapped_value_is_invalid_record_when_refused() -> None:
    b = bundle({"Description": "o" * 501}, items=[{"Id": "802A"}])
    _order, issues = run(b, metadata_map={"Description": "note"}, metadata_overflow="refuse")
    assert codes(issues) == ["invalid_record"]
    assert issues[0].field == "Description" and "501 characters" in issues[0].message


def test_a_value_of_exactly_500_characters_is_sent_as_is() -> None:
    b = bundle(items=[{"Id": "802A", "Description": "d" * 500}])
    order, _ = run(b, metadata_map={"Description": "note"}, metadata_overflow="refuse")
    assert order.lines[0].metadata["note"] == "d" * 500


@pytest.mark.parametrize(("service", "ok"), [
    ("0001-01-01", False), ("1999-12-31", False), ("2000-01-01", True),
    ("2099-12-31", True), ("2100-01-01", False)])
def test_service_dates_outside_the_window_are_invalid_dates_naming_the_line(
    service: str, ok: bool,
) -> None:
    b = bundle({"EffectiveDate": "2000-01-01", "EndDate": None},
               items=[{"Id": "802A", "ServiceDate": service, "EndDate": None}])
    order, issues = run(b)
    if ok:
        assert codes(issues) == [] and len(order.lines) == 1
    else:
        assert codes(issues) == ["invalid_dates"]
        assert issues[0].order_item_ids == ("802A",) and service in issues[0].message
        assert order.lines == ()


def test_the_date_window_is_configurable() -> None:
    b = bundle(items=[{"Id": "802A", "ServiceDate": "1990-06-01"}])
    assert codes(run(b)[1]) == ["invalid_dates"]
    order, issues = run(b, service_dates_from=date(1980, 1, 1))
    assert codes(issues) == [] and len(order.lines) == 1


def test_customer_name_is_cut_to_stripes_limit() -> None:
    params = customer_create_params(account_id="001A", name="N" * 5000, metadata={})
    assert len(params["name"]) == CUSTOMER_NAME_MAX
    assert params["name"].endswith(TRUNCATION_MARKER)
    assert fit_text("short", CUSTOMER_NAME_MAX) == "short"


def test_the_engines_limits_agree_with_stripes_published_spec() -> None:
    customers = tree_for("POST", "/v1/customers")
    features = tree_for("POST", "/v1/entitlements/features")
    assert customers is not None and features is not None
    assert customers["name"] == CUSTOMER_NAME_MAX
    assert features["name"] == FEATURE_NAME_MAX
    assert (emulator_limits.METADATA_KEY_MAX, emulator_limits.METADATA_VALUE_MAX,
            emulator_limits.METADATA_MAX_KEYS) == (METADATA_KEY_MAX, METADATA_VALUE_MAX,
                                                   METADATA_MAX_KEYS)
