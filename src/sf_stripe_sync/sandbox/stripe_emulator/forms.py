"""Bracket-notation form decoding, the way Stripe reads ``application/x-www-form-urlencoded``.

Theory of operation: ``a[b][0][c]=v`` becomes ``{"a": {"b": [{"c": "v"}]}}``. Keys are
split into segments; every container is first built as a dict, and at the end a dict
whose keys are exactly the indexes 0..n-1 turns into a list (validation turns it back
into a hash where the schema wants one, e.g. ``metadata[0]=x``). An empty segment
(``expand[]=x``) appends. Values stay strings: typing them is validation's job, because
only the endpoint's parameter schema knows whether "10" is an integer or a name.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """The body cannot be read as bracket-notation parameters."""


def split_key(key: str) -> list[str]:
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    rest = "[" + rest
    segments = _SEGMENT.findall(rest)
    if "".join(f"[{s}]" for s in segments) != rest or not head:
        raise FormError(f"Invalid parameter name: {key}")
    return [head, *segments]


def _insert(root: dict[str, Any], segments: list[str], value: str, key: str) -> None:
    node = root
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "":
            segment = str(sum(1 for k in node if k.isdigit()))
        if last:
            node[segment] = value
            return
        child = node.get(segment)
        if child is None or isinstance(child, str):
            if isinstance(child, str) and child != "":
                raise FormError(f"Invalid parameter name: {key}")
            child = {}
            node[segment] = child
        node = child


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {k: _listify(v) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        indexes = sorted(converted, key=int)
        if [int(k) for k in indexes] == list(range(len(indexes))):
            return [converted[k] for k in indexes]
    return converted


def parse_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        _insert(root, split_key(key), value, key)
    result = _listify(root)
    assert isinstance(result, dict)
    return result


def parse_form(body: str) -> dict[str, Any]:
    """Decode a query string or form body into nested dicts and lists of strings."""
    if not body:
        return {}
    return parse_pairs(parse_qsl(body, keep_blank_values=True, strict_parsing=False))
