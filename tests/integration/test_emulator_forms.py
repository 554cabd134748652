"""The emulator reads back exactly what the stripe SDK's own form encoder writes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stripe._encode import _api_encode

from sf_stripe_sync.sandbox.stripe_emulator.forms import FormError, parse_form

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
_scalars = st.text(alphabet="abcXYZ019 -_.:'&=+%", min_size=1, max_size=10)
_values: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3),
        st.dictionaries(_names, inner, min_size=1, max_size=3),
    ),
    max_leaves=12,
)


@given(st.dictionaries(_names, _values, max_size=4))
def test_sdk_encoding_round_trips_through_the_parser(params: dict[str, Any]) -> None:
    body = urlencode(list(_api_encode(params)))
    assert parse_form(body) == params


def test_empty_brackets_append_to_a_list() -> None:
    assert parse_form("expand[]=customer&expand[]=phases.items.price") == {
        "expand": ["customer", "phases.items.price"]}


def test_malformed_bracket_key_is_refused() -> None:
    with pytest.raises(FormError):
        parse_form("phases[0=x")
