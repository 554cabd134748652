"""The streamed JSON preview is the very document the whole-document render gives."""

from __future__ import annotations

import gc
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sf_stripe_sync import preview_stream
from sf_stripe_sync.cli.preview_commands import preview_features, preview_plans, render_preview
from sf_stripe_sync.config import Settings
from sf_stripe_sync.preview_stream import indented_json, write_preview_json
from sf_stripe_sync.sources.file_source import FileOrderSource

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo-org.json"
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)


def _source(settings: Settings) -> FileOrderSource:
    return FileOrderSource(DEMO, fields=settings.fields, rules=settings.rules)


def _whole(settings: Settings, order_ids: list[str]) -> str:
    source = _source(settings)
    plans, labels = preview_plans(source, order_ids, settings, AS_OF)
    return render_preview(plans, labels, "json", as_of=AS_OF, color=False,
                          features=preview_features(source, plans, settings))


def _streamed(settings: Settings, order_ids: list[str]) -> tuple[str, bool]:
    out = io.StringIO()
    errors = write_preview_json(_source(settings), order_ids, settings, AS_OF, out)
    return out.getvalue(), errors


def test_the_streamed_preview_is_the_whole_document_text_for_text() -> None:
    settings = Settings(page_size=3)  # several pages
    text, errors = _streamed(settings, [])
    assert text == _whole(settings, [])
    assert errors == any(o["errors"] for o in json.loads(text)["orders"])


def test_asked_orders_come_out_in_the_order_asked_unknown_ones_not_found() -> None:
    settings = Settings()
    asked = ["801000000000003AAA", "801NOPE00000000AAA", "801000000000001AAA"]
    text, errors = _streamed(settings, asked)
    orders = json.loads(text)["orders"]
    assert [o["order_id"] for o in orders] == asked
    assert orders[1]["errors"][0]["code"] == "invalid_record" and errors
    assert text == _whole(settings, asked)


def test_an_empty_preview_is_an_empty_list() -> None:
    settings = Settings()
    out = io.StringIO()
    source = FileOrderSource({"Order": []}, fields=settings.fields, rules=settings.rules)
    assert write_preview_json(source, [], settings, AS_OF, out) is False
    assert json.loads(out.getvalue()) == {"orders": [], "as_of": "2026-12-01T00:00:00Z"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.floats(allow_nan=True, allow_infinity=True),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=6) | st.integers() | st.booleans(), inner, max_size=4),
    max_leaves=30)


@hypothesis_settings(max_examples=300, deadline=None)
@given(json_values, st.integers(0, 3))
def test_the_fast_indented_text_is_what_json_dumps_writes(value: object, depth: int) -> None:
    expected = json.dumps(value, indent=2, ensure_ascii=False).replace(
        "\n", "\n" + "  " * depth)
    assert indented_json(value, depth) == expected


def test_values_nested_deeper_than_the_fast_path_fall_back_to_json_dumps() -> None:
    deep: object = "leaf"
    for _ in range(40):
        deep = {"k": [deep]}
    assert indented_json(deep) == json.dumps(deep, indent=2, ensure_ascii=False)


def test_the_collector_settings_are_put_back_after_the_preview(
        monkeypatch: pytest.MonkeyPatch) -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    original = preview_stream._write

    def spying(*args: Any, **kwargs: Any) -> bool:
        seen.append(gc.get_threshold())
        return original(*args, **kwargs)

    monkeypatch.setattr(preview_stream, "_write", spying)
    _streamed(Settings(page_size=3), [])
    assert seen == [preview_stream.COLLECT_EVERY]
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
