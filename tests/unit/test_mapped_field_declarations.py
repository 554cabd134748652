"""The declarations that make a mapped field a few lines: ``ReadOn`` on ``FieldMap``
fields (what the reader selects) and ``StripePhaseParam`` on ``PhaseProperties`` fields
(what is copied to and from a Stripe phase), checked against the SDK's typed params."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Annotated, Any

import pytest
from stripe.params import (
    SubscriptionScheduleCreateParamsPhase,
    SubscriptionScheduleUpdateParamsPhase,
)

from sf_stripe_sync.core import fingerprint, order_lines
from sf_stripe_sync.core.models import (
    DesiredSchedule,
    OrderBundle,
    Phase,
    PhaseProperties,
    StripePhaseParam,
    plain_phase_params,
)
from sf_stripe_sync.core.rules import FieldMap, SyncRules, field_read, field_reads
from sf_stripe_sync.salesforce.describe import SOBJECTS, wanted_fields
from sf_stripe_sync.stripe import convert, params

SDK_PHASES = (SubscriptionScheduleCreateParamsPhase, SubscriptionScheduleUpdateParamsPhase)


def _takes_text(hint: Any) -> bool:
    """Whether a TypedDict key's type (``NotRequired[...]`` unwrapped) accepts a str."""
    while typing.get_origin(hint) in (typing.NotRequired, typing.Required):
        hint = typing.get_args(hint)[0]
    return hint is str or str in typing.get_args(hint)


def declaration_problems(model: type[PhaseProperties]) -> list[str]:
    """Every declared Stripe key not a text key of both SDK phase TypedDicts, and every
    declared source field that is not a FieldMap field the reader selects."""
    problems = []
    for name, param in plain_phase_params(model):
        for sdk in SDK_PHASES:
            hints = typing.get_type_hints(sdk, include_extras=True)
            if param.key not in hints:
                problems.append(f"{name}: {param.key!r} is not a key of {sdk.__name__}")
            elif not _takes_text(hints[param.key]):
                problems.append(f"{name}: {sdk.__name__}[{param.key!r}] takes no text")
        if field_read(param.field) is None:
            problems.append(f"{name}: fields.{param.field} is not a FieldMap field read")
    return problems


class _Described(PhaseProperties):
    """A phase property as the experiment adds one (its source: a field read on Order)."""

    description: Annotated[str | None, StripePhaseParam("description", field="sync_error")] = (
        None)


class _Misspelt(PhaseProperties):
    note: Annotated[str | None, StripePhaseParam("descripton", field="phase_note")] = None


def test_every_declared_phase_param_is_a_text_key_of_the_sdk_phase_params() -> None:
    assert declaration_problems(PhaseProperties) == []
    assert declaration_problems(_Described) == []


def test_a_misspelt_stripe_key_or_unread_field_fails_the_check() -> None:
    problems = declaration_problems(_Misspelt)
    assert any("'descripton' is not a key of SubscriptionScheduleCreateParamsPhase" in p
               for p in problems)
    assert any("'descripton' is not a key of SubscriptionScheduleUpdateParamsPhase" in p
               for p in problems)
    assert any("fields.phase_note is not a FieldMap field read" in p for p in problems)


def test_every_field_map_field_is_declared_read_or_is_a_sync_log_name() -> None:
    read = {name for name, _ in field_reads()}
    unread = set(FieldMap.model_fields) - read
    assert unread and all(name.startswith("sync_log_") for name in unread)
    for _, declaration in field_reads():
        assert set(declaration.sobjects) <= set(SOBJECTS)


def test_the_reader_selects_a_field_where_its_declaration_says() -> None:
    wanted = {(w.sobject, w.name, w.required, w.setting)
              for w in wanted_fields(FieldMap(default_payment_method="Saved_PM__c"),
                                     SyncRules(create_missing_prices=True))}
    assert ("Contract", "Saved_PM__c", False, "fields.default_payment_method") in wanted
    assert ("Account", "Saved_PM__c", False, "fields.default_payment_method") in wanted
    assert ("Product2", "Stripe_Product_Id__c", True, "fields.product_stripe_id") in wanted
    loose = wanted_fields(FieldMap(), SyncRules())
    assert ("Product2", "Stripe_Product_Id__c", False) in {
        (w.sobject, w.name, w.required) for w in loose}


def test_a_declared_property_is_read_sent_and_read_back_with_no_code_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    declared = plain_phase_params(_Described)
    for module in (order_lines, params, convert):
        monkeypatch.setattr(module, "PLAIN_PHASE_PARAMS", declared)
    bundle = OrderBundle(order={"Id": "801A", "Stripe_Sync_Error__c": "Gold plan"})
    ctx = SimpleNamespace(fields=FieldMap(), bundle=bundle)
    read = order_lines._plain_properties({"Id": "802A"}, ctx)  # type: ignore[arg-type]
    assert read == {"description": "Gold plan"}

    start = datetime(2026, 1, 1, tzinfo=UTC)
    phase = Phase(start=start, end=None, items=(),
                  properties=_Described(currency="usd", **read))
    sent = params._phase(SubscriptionScheduleCreateParamsPhase, 0, phase, {}, {})
    assert sent.get("description") == "Gold plan"

    monkeypatch.setattr(convert, "PhaseProperties", _Described)
    raw = {"start_date": int(start.timestamp()), "currency": "usd", "items": [],
           "description": "Gold plan"}
    back = convert._phase(raw, {}, open_end=True, where="phase 0", fallback_currency="usd")
    assert back.properties == phase.properties
    raw["description"] = None
    blank = convert._phase(raw, {}, open_end=True, where="phase 0", fallback_currency="usd")
    assert blank.properties.description is None  # type: ignore[attr-defined]


def test_a_phase_with_no_optional_property_set_sends_none_of_them() -> None:
    phase = Phase(start=datetime(2026, 1, 1, tzinfo=UTC), end=None, items=(),
                  properties=PhaseProperties(currency="usd"))
    sent = params._phase(SubscriptionScheduleCreateParamsPhase, 0, phase, {}, {})
    assert set(sent) == {"items", "collection_method", "currency"}


def test_an_unset_declared_property_leaves_the_fingerprint_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fingerprint, "PLAIN_PHASE_PARAMS", plain_phase_params(_Described))
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def schedule_fp(properties: PhaseProperties) -> str:
        phase = Phase(start=start, end=None, items=(), properties=properties)
        schedule = DesiredSchedule(phases=(phase,), end_behavior="cancel")
        return fingerprint.fingerprint(fingerprint.canonical_schedule(schedule))

    before = schedule_fp(PhaseProperties(currency="usd"))
    assert schedule_fp(_Described(currency="usd")) == before
    assert schedule_fp(_Described(currency="usd", description="Gold plan")) != before
