"""An order its contract's prefetch already normalized is not normalized again."""

from __future__ import annotations

from pathlib import Path

import pytest

from sf_stripe_sync import reading
from sf_stripe_sync.config import Settings
from sf_stripe_sync.core.normalize import normalize_order
from sf_stripe_sync.reading import OrderReader
from sf_stripe_sync.sources.file_source import FileOrderSource

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo-org.json"


def _reader(monkeypatch: pytest.MonkeyPatch) -> tuple[OrderReader, FileOrderSource, list[str]]:
    settings = Settings()
    source = FileOrderSource(DEMO, fields=settings.fields, rules=settings.rules)
    calls: list[str] = []

    def counting(bundle, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(bundle.order_id)
        return normalize_order(bundle, **kwargs)

    monkeypatch.setattr(reading, "normalize_order", counting)
    return OrderReader(settings, source, "test"), source, calls


def test_a_prefetched_order_is_normalized_once(monkeypatch: pytest.MonkeyPatch) -> None:
    reader, source, calls = _reader(monkeypatch)
    page = [b for b in source.orders_by_id(source.activated_order_ids())
            if b.order.get("ContractId")]
    assert page
    reader.prefetch_contracts(page)
    prefetched = len(calls)
    for bundle in page:
        expected = normalize_order(bundle, fields=reader.settings.fields,
                                   rules=reader.settings.rules)
        assert reader.normalize(bundle) == expected
    assert len(calls) == prefetched  # every page order came from the prefetch


def test_a_bundle_unlike_the_prefetched_one_is_normalized_afresh(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reader, source, calls = _reader(monkeypatch)
    page = [b for b in source.orders_by_id(source.activated_order_ids())
            if b.order.get("ContractId")][:1]
    reader.prefetch_contracts(page)
    changed = page[0].model_copy(update={"order": {**page[0].order, "Name": "renamed"}})
    before = len(calls)
    order, _ = reader.normalize(changed)
    assert len(calls) == before + 1
    reader.release_contracts(page)
    reader.normalize(page[0])  # released: nothing kept
    assert len(calls) == before + 2
    assert order is not None
